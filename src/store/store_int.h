/* store_int.h: private to the store layer: the headers backends extend. */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include "store/store.h"

/* Every backend connection and statement begins with these. */
struct pv_conn {
    const struct pv_store_ops *ops;
    struct pv_cache *cache; /* row caches a reader may use (cache.c); NULL on writers */
};

struct pv_stmt {
    const struct pv_store_ops *ops;
};

/* Shorthand for the typed files: prepare q on c or return its error. */
#define PREP(c, q, st)                                                                             \
    do {                                                                                           \
        int prep_rc_ = pv_stmt_prepare((c), (q), &(st));                                           \
        if (prep_rc_ != 0)                                                                         \
            return prep_rc_;                                                                       \
    } while (0)

/* Step a statement that returns no rows, reset it, return 0 or the error. */
int pv_stmt_run(struct pv_stmt *st);
/* Fill r from a row whose columns are id, subject_id, collection, created, updated, body (the
 * records and usage tables alike); r->body must be initialized. */
int pv_row_record(struct pv_stmt *st, struct pv_record *r);
/* Call cb with each row of st, as pv_row_record() reads it, until one returns non-zero; resets st.
 */
int pv_rows_each(struct pv_stmt *st, int (*cb)(const struct pv_record *r, void *arg), void *arg);

/*
 * Row caches (cache.c): what readers look up on every request, kept while
 * no transaction has written the tables they come from. A backend that
 * caches bumps the generations of the kinds a committed transaction wrote.
 */
enum pv_cache_kind {
    PV_CACHE_SESSION, /* token hash -> struct pv_cache_session */
    PV_CACHE_ASSIGN,  /* subject id, user id -> assigned */
    PV_CACHE_SUBJECT, /* subject id -> struct pv_subject */
    PV_CACHE_KINDS
};

struct pv_cache_session {
    struct pv_session s;
    struct pv_user u;
};

struct pv_cache;

int pv_cache_new(struct pv_cache **out);
void pv_cache_free(struct pv_cache *c);
/* The generation to stamp a row with; read it before querying the row. */
uint64_t pv_cache_gen(struct pv_cache *c, enum pv_cache_kind kind);
/* 0 and *val filled if key is cached under the current generation, else PV_ENOTFOUND. */
int pv_cache_get(struct pv_cache *c, enum pv_cache_kind kind, const void *key, void *val);
/* Keep val for key, unless the generation moved past stamp since it was read. */
void pv_cache_put(struct pv_cache *c, enum pv_cache_kind kind, const void *key, const void *val,
                  uint64_t stamp);
/* Drop every entry of the kinds in the mask (bit 1 << kind). */
void pv_cache_bump(struct pv_cache *c, unsigned kinds);
/* The kinds whose rows come from table; 0 for a table nothing caches. */
unsigned pv_cache_kinds_of_table(const char *table);

#endif
