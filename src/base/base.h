/*
 * base: the bottom layer of phivault.
 *
 * Error codes and their messages, bounded buffers (every buffer has a
 * maximum), time with a clock tests can move, random identifiers and
 * JSON-lines logging that by construction carries no personal data: a log
 * call takes only event names and values the caller vouches are not
 * personal (ids, counts, route patterns), never request bodies or paths.
 *
 * Thread safety: everything here is safe to call from any thread; the log
 * level and the clock offset are set once at start-up.
 */
#ifndef PV_BASE_H
#define PV_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every fallible function returns 0 or one of these negative codes. The HTTP
 * layer maps each to a status and a problem type in one table.
 */
enum pv_err {
    PV_OK = 0,
    PV_ENOMEM = -1,      /* out of memory */
    PV_EINVAL = -2,      /* bad argument or malformed input */
    PV_ENOTFOUND = -3,   /* no such object (or not visible to the caller) */
    PV_EEXIST = -4,      /* object already exists */
    PV_EIO = -5,         /* file or system call failed */
    PV_ECRYPTO = -6,     /* authentication of sealed data failed */
    PV_EAUTH = -7,       /* no valid credentials */
    PV_EDENIED = -8,     /* the policy denies the operation */
    PV_ENOPURPOSE = -9,  /* no X-Purpose given on a data route */
    PV_EPURPOSE = -10,   /* X-Purpose names no purpose of the policy */
    PV_EFIELD = -11,     /* a field the collection does not declare */
    PV_EPOLICYVER = -12, /* the policy version given is not the one in force */
    PV_EAGE = -13,       /* below the policy's minimum age */
    PV_EAUDIT = -14,     /* the audit log could not be written */
    PV_EJSON = -15,      /* body is not well-formed JSON */
    PV_ECTYPE = -16,     /* wrong Content-Type */
    PV_ETOOBIG = -17,    /* input exceeds its limit */
    PV_ENOROUTE = -18,   /* no route for the path */
    PV_EMETHOD = -19,    /* route exists, method does not */
    PV_ELOGIN = -20,     /* username or password wrong */
    PV_ESTORE = -21,     /* the store failed */
    PV_EPOLICY = -22,    /* the policy file is invalid */
    PV_EBUSY = -23,      /* resource busy, try again */
    PV_ECONFLICT = -24,  /* the request conflicts with current state */
    PV_ETAMPER = -25,    /* the audit log fails verification */
    PV_EUNAVAIL = -26,   /* the service is shutting down or not ready */
    PV_ETHROTTLE = -27,  /* too many failed attempts; try again later */
    PV_EMFA = -28,       /* a second factor is required */
    PV_ECARD = -29,      /* a full payment card number in input the policy refuses */
    PV_ESEALED = -30,    /* an end-to-end value not sealed for readers who may read it */
    PV_ERR_COUNT_ = 31
};

/* A static English sentence for err; never NULL. */
const char *pv_strerror(int err);

/* ---- bounded buffers ---------------------------------------------------- */

/*
 * A growable byte buffer that never grows past max. data is always
 * NUL-terminated (not counted in len) so text can be used in place.
 */
struct pv_buf {
    char *data;
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most len may ever be */
};

void pv_buf_init(struct pv_buf *b, size_t max);
void pv_buf_fini(struct pv_buf *b);
void pv_buf_reset(struct pv_buf *b);
/* Append n bytes; PV_ETOOBIG if the result would exceed max (b unchanged). */
int pv_buf_append(struct pv_buf *b, const void *p, size_t n);
int pv_buf_puts(struct pv_buf *b, const char *s);
int pv_buf_printf(struct pv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pv_buf_vprintf(struct pv_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal, quotes included. */
int pv_buf_json_str(struct pv_buf *b, const char *s);
/* Append s as HTML or XML text: & < > " ' as character references (NULL appends nothing). */
int pv_buf_markup(struct pv_buf *b, const char *s);

/* ---- strings ------------------------------------------------------------ */

/* Copy src into dst of size n, always terminated; PV_ETOOBIG if truncated. */
int pv_strlcpy(char *dst, const char *src, size_t n);
/* Parse a decimal integer in [min,max] taking the whole string. */
int pv_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Free with free(); NULL on allocation failure. */
char *pv_strdup(const char *s);
char *pv_strndup(const char *s, size_t n);

/* ---- time --------------------------------------------------------------- */

/*
 * Wall-clock time in seconds or milliseconds since the epoch, plus an offset
 * that pv_clock_set_offset() sets (tests and `--clock-offset` move time
 * forward to exercise deadlines and retention).
 */
int64_t pv_now(void);
int64_t pv_now_ms(void);
void pv_clock_set_offset(int64_t seconds);
/*
 * Tests only: take the offset (seconds, a decimal integer) from a file,
 * re-read at every reading of the clock, so a test can move a running
 * server's time. Set from the PHIVAULT_TEST_CLOCK_FILE environment variable
 * by every command.
 */
void pv_clock_set_file(const char *path);
/* Monotonic milliseconds, for timing only. */
int64_t pv_mono_ms(void);
/* Format t as 2026-01-31T12:00:00Z into out (at least 21 bytes). */
void pv_time_format(int64_t t, char out[21]);
/* Parse YYYY-MM-DD (a real calendar date) into y/m/d. */
int pv_date_parse(const char *s, int *y, int *m, int *d);
/* Days since 1970-01-01 of a calendar date. */
int64_t pv_days_from_civil(int y, int m, int d);
/* Whole years between birth date and the date of time t (UTC). */
int pv_age_years(int by, int bm, int bd, int64_t t);
/*
 * t (seconds) moved by a number of calendar months, the time of day kept and
 * the day clamped to the end of a shorter month (Jan 31 + 1 month = Feb 28).
 */
int64_t pv_time_add_months(int64_t t, int months);

/* ---- identifiers -------------------------------------------------------- */

#define PV_ID_MAX 32 /* prefix (up to 4) + '_' + 26 chars + NUL fits */

/* A new random id "<prefix>_<26 base32 chars>" (128 random bits). */
void pv_id_new(const char *prefix, char out[PV_ID_MAX]);
/* Whether s has the shape of an id with this prefix. */
int pv_id_valid(const char *s, const char *prefix);

/* ---- logging ------------------------------------------------------------ */

enum pv_log_level { PV_LOG_DEBUG, PV_LOG_INFO, PV_LOG_WARN, PV_LOG_ERROR, PV_LOG_OFF };

void pv_log_set_level(enum pv_log_level level);
/* Point the log at a file descriptor (default 2). */
void pv_log_set_fd(int fd);
/*
 * Write one JSON line {"ts":..,"level":..,"event":..,k1:v1,...}. The variadic
 * part is pairs of const char * key and const char * value, ended by NULL.
 * Values must never be personal data: pass ids, counts, route patterns and
 * error names only.
 */
void pv_log(enum pv_log_level level, const char *event, ...);

#define PV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- HTML form bodies (form.c) ------------------------------------------ */

#define PV_FORM_MAX_PARAMS 64

/*
 * An application/x-www-form-urlencoded body, decoded ('+' is a space, %XX a
 * byte): keys and values are NUL-terminated copies owned by the form, in
 * the order they came. A decoded NUL byte is refused, so every value is a
 * C string.
 */
struct pv_form {
    struct {
        const char *key, *value;
    } params[PV_FORM_MAX_PARAMS];
    int n;
    char *store; /* owns every key and value */
    size_t store_len;
};

/* PV_EINVAL on a malformed body (bad %-escape, NUL, empty key), PV_ETOOBIG past the limit. */
int pv_form_parse(const char *body, size_t len, struct pv_form *out);
/* Wipes the decoded text (it may be personal data) and frees it. */
void pv_form_fini(struct pv_form *f);
/* The first value of key, or NULL. */
const char *pv_form_get(const struct pv_form *f, const char *key);

/* ---- payment card numbers (card.c) ------------------------------------------ */

/*
 * Whether text s of len bytes holds a full payment card number: a run of 13
 * to 19 digits that passes the Luhn check, written straight or in groups
 * joined by one space or one dash ("4111 1111 1111 1111"). Within a longer
 * run of groups, every stretch of whole groups is checked, so digits put in
 * front of a card number do not hide it. Pure; reads nothing else.
 */
int pv_card_number_in(const char *s, size_t len);

#endif
