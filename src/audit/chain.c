/*
 * chain.c: entry hashing and verification of the whole log.
 *
 * An entry's hash covers, in order: the tag "pv-audit-1", the previous
 * entry's hash (zeros for the first), its sequence and time as 64-bit
 * big-endian integers, and each text field as a 32-bit big-endian length
 * and its bytes. Changing any field or moving an entry to another position
 * changes the hash; deleting one breaks the sequence; truncating the tail
 * leaves the signed head pointing past the end.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"

static void
put64(unsigned char *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
}

/* The bytes an entry's hash covers, after the tag and the previous hash (see the top). */
#define ENTRY_BUF 2048

static const char *const *
texts_of(const struct pv_audit_row *r, const char *out[12])
{
    out[0] = r->actor;
    out[1] = r->role;
    out[2] = r->credential;
    out[3] = r->action;
    out[4] = r->subject;
    out[5] = r->collection;
    out[6] = r->record;
    out[7] = r->categories;
    out[8] = r->purpose;
    out[9] = r->recipient;
    out[10] = r->decision;
    out[11] = r->reason;
    return out;
}

static void
put32(unsigned char *p, size_t n)
{
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
}

void
pv_audit_hash(const unsigned char prev[PV_HASH_BYTES], const struct pv_audit_row *r,
              unsigned char out[PV_HASH_BYTES])
{
    /*
     * The message is laid out in one buffer and hashed in one call: verifying
     * a log hashes every entry, and many small updates cost more than the
     * hashing itself. An entry too large for the buffer is hashed piece by
     * piece: the same bytes, so the same hash.
     */
    static const unsigned char tag[10] = {'p', 'v', '-', 'a', 'u', 'd', 'i', 't', '-', '1'};
    unsigned char buf[ENTRY_BUF];
    const char *t[12];
    size_t len[12], n = 10 + PV_HASH_BYTES + 16;
    struct pv_hasher h;

    texts_of(r, t);
    for (int i = 0; i < 12; i++) {
        len[i] = t[i] ? strlen(t[i]) : 0;
        n += 4 + len[i];
    }
    memcpy(buf, tag, sizeof tag);
    memcpy(buf + 10, prev, PV_HASH_BYTES);
    put64(buf + 10 + PV_HASH_BYTES, r->seq);
    put64(buf + 18 + PV_HASH_BYTES, r->ts_ms);
    if (n <= sizeof buf) {
        unsigned char *p = buf + 10 + PV_HASH_BYTES + 16;
        for (int i = 0; i < 12; i++) {
            put32(p, len[i]);
            if (len[i])
                memcpy(p + 4, t[i], len[i]);
            p += 4 + len[i];
        }
        pv_hash(buf, n, out);
        return;
    }
    pv_hash_init(&h);
    pv_hash_update(&h, buf, 10 + PV_HASH_BYTES + 16);
    for (int i = 0; i < 12; i++) {
        unsigned char l[4];
        put32(l, len[i]);
        pv_hash_update(&h, l, 4);
        if (len[i])
            pv_hash_update(&h, t[i], len[i]);
    }
    pv_hash_final(&h, out);
}

void
pv_checkpoint_message(const struct pv_checkpoint *k, unsigned char out[PV_CHECKPOINT_MSG_BYTES])
{
    static const unsigned char tag[16] = "pv-checkpoint-1"; /* the NUL is the 16th byte */

    memcpy(out, tag, sizeof tag);
    put64(out + 16, k->seq);
    put64(out + 24, k->ts_ms);
    memcpy(out + 32, k->hash, PV_HASH_BYTES);
}

/* ---- verification ------------------------------------------------------- */

/*
 * Every link is checked on its own: entry i against the stored hash of
 * entry i - 1. So the log can be cut into ranges of sequence numbers and the
 * ranges checked at once, each on a connection of its own; the first bad
 * entry of the whole log is the smallest any range reports.
 */
struct verify {
    const unsigned char *pk;
    struct pv_audit_report rep;
    unsigned char prev[PV_HASH_BYTES]; /* hash of the entry before `expect` */
    int64_t expect;                    /* the next sequence number */
    int64_t end;                       /* the range ends before this sequence */
    /* signed checkpoints of the whole log in sequence order (shared); the next one to check */
    const struct pv_checkpoint *cps;
    size_t ncps, cp_next;
    _Atomic int64_t *done; /* entries checked, across ranges (progress) */
    _Atomic int *finished; /* ranges whose thread is done */
    struct pv_store *store;
    int rc;
};

static int fail(struct verify *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct verify *v, int64_t seq, const char *fmt, ...)
{
    va_list ap;

    v->rep.bad_seq = seq;
    va_start(ap, fmt);
    (void)vsnprintf(v->rep.problem, sizeof v->rep.problem, fmt, ap);
    va_end(ap);
    return PV_ETAMPER;
}

static int
check_signature(struct verify *v, const struct pv_checkpoint *k)
{
    unsigned char msg[PV_CHECKPOINT_MSG_BYTES];

    pv_checkpoint_message(k, msg);
    v->rep.checkpoints++;
    return pv_sig_verify(v->pk, msg, sizeof msg, k->sig);
}

struct cp_list {
    struct pv_checkpoint *cps;
    size_t n, cap;
};

static int
collect_checkpoint(const struct pv_checkpoint *k, void *arg)
{
    struct cp_list *l = arg;
    struct pv_checkpoint *p;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        if ((p = realloc(l->cps, l->cap * sizeof *p)) == NULL)
            return PV_ENOMEM;
        l->cps = p;
    }
    l->cps[l->n++] = *k;
    return 0;
}

#define STOP 1 /* a scan callback's "this range is done" */

static int
check_entry(const struct pv_audit_row *r, void *arg)
{
    struct verify *v = arg;
    unsigned char h[PV_HASH_BYTES];
    const struct pv_checkpoint *k;

    if (r->seq >= v->end) {
        if (v->expect < v->end)
            return fail(v, v->expect,
                        "audit entry %lld is missing (deleted); the next entry present is %lld",
                        (long long)v->expect, (long long)r->seq);
        return STOP;
    }
    if (r->seq != v->expect) {
        if (r->seq > v->expect)
            return fail(v, v->expect,
                        "audit entry %lld is missing (deleted); the next entry present is %lld",
                        (long long)v->expect, (long long)r->seq);
        return fail(v, r->seq, "audit entry %lld appears out of sequence after %lld",
                    (long long)r->seq, (long long)v->expect - 1);
    }
    pv_audit_hash(v->prev, r, h);
    /* Chain hashes are public (they are stored next to the entries): plain memcmp will do. */
    if (memcmp(h, r->hash, PV_HASH_BYTES) != 0)
        return fail(v, r->seq,
                    "audit entry %lld does not match its hash: changed, or moved from another "
                    "position",
                    (long long)r->seq);
    while (v->cp_next < v->ncps && v->cps[v->cp_next].seq <= r->seq) {
        k = &v->cps[v->cp_next++];
        if (k->seq != r->seq)
            return fail(v, k->seq, "signed checkpoint %lld names no entry (last seen %lld)",
                        (long long)k->seq, (long long)r->seq);
        if (memcmp(k->hash, h, PV_HASH_BYTES) != 0)
            return fail(v, r->seq,
                        "the chain up to entry %lld differs from its signed checkpoint: an "
                        "earlier entry was rewritten",
                        (long long)r->seq);
        if (check_signature(v, k) != 0)
            return fail(v, r->seq, "the signature of checkpoint %lld is invalid",
                        (long long)r->seq);
    }
    memcpy(v->prev, h, PV_HASH_BYTES);
    v->expect++;
    if ((++v->rep.entries & 0xfff) == 0)
        atomic_fetch_add(v->done, 0x1000);
    return 0;
}

/* The stored hash of the entry before the range: the first link the range checks. */
static int
take_prev(const struct pv_audit_row *r, void *arg)
{
    struct verify *v = arg;

    if (r->seq == v->expect - 1)
        memcpy(v->prev, r->hash, PV_HASH_BYTES);
    /*
     * Else that entry is missing: the range before this one reports it, at a
     * smaller sequence, and this range's first entry simply fails its link.
     */
    return STOP;
}

/* Check the range [v->expect, v->end) on connection c. */
static int
check_range(struct pv_conn *c, struct verify *v)
{
    int rc = 0;

    while (v->cp_next < v->ncps && v->cps[v->cp_next].seq < v->expect)
        v->cp_next++;
    if (v->expect > 1)
        rc = pv_store_audit_scan(c, v->expect - 1, take_prev, v);
    if (rc == 0 || rc == STOP)
        rc = pv_store_audit_scan(c, v->expect, check_entry, v);
    return rc == STOP ? 0 : rc;
}

static void *
range_thread(void *arg)
{
    struct verify *v = arg;
    struct pv_conn *c = NULL;

    v->rc = pv_store_conn_open(v->store, 0, &c);
    if (v->rc == 0)
        v->rc = check_range(c, v);
    pv_store_conn_close(c);
    atomic_fetch_add(v->finished, 1);
    return NULL;
}

/* The checks that follow the entries: checkpoints past the end, the signed head. */
static int
check_end(struct pv_conn *c, struct verify *v, int64_t last, const unsigned char last_hash[],
          const struct pv_checkpoint *ck, size_t nck)
{
    struct pv_checkpoint head;
    int rc = pv_store_head_get(c, &head), have_head = rc == 0;

    if (rc == PV_ENOTFOUND)
        rc = 0;
    if (rc == PV_ETAMPER)
        return fail(v, 1, "the signed head is malformed");
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < nck; i++)
        if (ck[i].seq > last)
            return fail(v, last + 1,
                        "signed checkpoint %lld lies past the last entry %lld: entries were "
                        "removed (truncated)",
                        (long long)ck[i].seq, (long long)last);
    if (!have_head && last > 0)
        return fail(v, last, "the signed head is missing although the log holds %lld entries",
                    (long long)last);
    if (!have_head)
        return 0;
    if (head.seq > last)
        return fail(v, last + 1,
                    "the log ends at entry %lld but the signed head covers %lld: entries were "
                    "removed (truncated)",
                    (long long)last, (long long)head.seq);
    if (head.seq < last)
        return fail(v, head.seq + 1,
                    "entries after %lld are not covered by the signed head (%lld entries)",
                    (long long)head.seq, (long long)last);
    if (memcmp(head.hash, last_hash, PV_HASH_BYTES) != 0)
        return fail(v, last, "the chain differs from the signed head at entry %lld",
                    (long long)last);
    if (check_signature(v, &head) != 0)
        return fail(v, last, "the signature of the head at entry %lld is invalid", (long long)last);
    return 0;
}

#define MIN_RANGE 65536 /* entries: smaller logs are checked in one range */
#define MAX_RANGES 16

/*
 * Verify with nranges ranges: one on c itself, or each on a thread and a
 * connection of its own to store (which must then be non-NULL).
 */
static int
verify(struct pv_conn *c, struct pv_store *store, int nranges,
       const unsigned char pk[PV_SIGN_PK_BYTES], struct pv_audit_report *rep,
       void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    unsigned char last_hash[PV_HASH_BYTES];
    struct cp_list cps = {NULL, 0, 0};
    struct verify end, *v = NULL;
    pthread_t th[MAX_RANGES];
    _Atomic int64_t done = 0;
    _Atomic int finished = 0;
    int64_t last = 0;
    int rc, bad = -1, n = 0;

    memset(rep, 0, sizeof *rep);
    memset(&end, 0, sizeof end);
    end.pk = pk;
    rc = pv_store_audit_last(c, &last, last_hash);
    if (rc == PV_ETAMPER)
        rc = fail(&end, 1, "the last audit entry is malformed");
    if (rc == 0)
        rc = pv_store_checkpoint_scan(c, collect_checkpoint, &cps);
    if (rc == PV_ETAMPER)
        rc = fail(&end, 1, "a signed checkpoint is malformed");
    if (rc == 0 && last > 0) {
        if (nranges < 1)
            nranges = 1;
        if (nranges > MAX_RANGES)
            nranges = MAX_RANGES;
        if (store == NULL || last < (int64_t)nranges)
            nranges = 1;
        if ((v = calloc((size_t)nranges, sizeof *v)) == NULL)
            rc = PV_ENOMEM;
    }
    for (int i = 0; rc == 0 && i < nranges && last > 0; i++) {
        v[i].pk = pk;
        v[i].cps = cps.cps;
        v[i].ncps = cps.n;
        v[i].done = &done;
        v[i].finished = &finished;
        v[i].store = store;
        v[i].expect = 1 + last * i / nranges;
        v[i].end = i == nranges - 1 ? INT64_MAX : 1 + last * (i + 1) / nranges;
    }
    if (rc == 0 && last > 0 && nranges == 1) {
        v[0].rc = check_range(c, &v[0]);
        n = 1;
    } else if (rc == 0 && last > 0) {
        for (n = 0; n < nranges; n++)
            if (pthread_create(&th[n], NULL, range_thread, &v[n]) != 0)
                break;
        if (n < nranges)
            rc = PV_ENOMEM; /* the started ones are joined below */
        /* Progress from this thread alone: the callback need not be thread-safe. */
        while (progress && atomic_load(&finished) < n) {
            progress(atomic_load(&done), last, arg);
            (void)nanosleep(&(struct timespec){0, 100000000L}, NULL); /* 0.1 s */
        }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
    }
    /* The first bad entry of the log is the smallest any range found. */
    for (int i = 0; rc == 0 && i < n; i++) {
        if (v[i].rc != 0 && v[i].rc != PV_ETAMPER)
            rc = v[i].rc;
        else if (v[i].rc == PV_ETAMPER && (bad < 0 || v[i].rep.bad_seq < v[bad].rep.bad_seq))
            bad = i;
        rep->entries += v[i].rep.entries;
        rep->checkpoints += v[i].rep.checkpoints;
    }
    if (rc == 0 && bad >= 0) {
        rep->bad_seq = v[bad].rep.bad_seq;
        memcpy(rep->problem, v[bad].rep.problem, sizeof rep->problem);
        rc = PV_ETAMPER;
    } else if (rc == 0) {
        rc = check_end(c, &end, last, last > 0 ? v[n - 1].prev : last_hash, cps.cps, cps.n);
        rep->checkpoints += end.rep.checkpoints;
        if (rc == 0 && progress)
            progress(rep->entries, last, arg);
    }
    if (rc == PV_ETAMPER && bad < 0) {
        rep->bad_seq = end.rep.bad_seq;
        memcpy(rep->problem, end.rep.problem, sizeof rep->problem);
    }
    free(v);
    free(cps.cps);
    return rc;
}

int
pv_audit_verify(struct pv_conn *c, const unsigned char pk[PV_SIGN_PK_BYTES],
                struct pv_audit_report *rep,
                void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    return verify(c, NULL, 1, pk, rep, progress, arg);
}

int
pv_audit_verify_store(struct pv_store *s, int threads, const unsigned char pk[PV_SIGN_PK_BYTES],
                      struct pv_audit_report *rep,
                      void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct pv_conn *c = NULL;
    unsigned char h[PV_HASH_BYTES];
    int64_t last = 0;
    long cpus;
    int rc;

    if ((rc = pv_store_conn_open(s, 0, &c)) != 0)
        return rc;
    if (threads <= 0) {
        /* As many ranges as CPUs, for a log large enough to be worth it. */
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)cpus : 1;
        if (pv_store_audit_last(c, &last, h) != 0 || last < (int64_t)threads * MIN_RANGE)
            threads = 1;
    }
    rc = verify(c, s, threads, pk, rep, progress, arg);
    pv_store_conn_close(c);
    return rc;
}
