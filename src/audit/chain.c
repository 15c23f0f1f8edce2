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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static void
put64(unsigned char *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
}

static void
hash_text(struct pv_hasher *h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};

    pv_hash_update(h, len, 4);
    if (n)
        pv_hash_update(h, s, n);
}

void
pv_audit_hash(const unsigned char prev[PV_HASH_BYTES], const struct pv_audit_row *r,
              unsigned char out[PV_HASH_BYTES])
{
    struct pv_hasher h;
    unsigned char nums[16];

    pv_hash_init(&h);
    pv_hash_update(&h, "pv-audit-1", 10);
    pv_hash_update(&h, prev, PV_HASH_BYTES);
    put64(nums, r->seq);
    put64(nums + 8, r->ts_ms);
    pv_hash_update(&h, nums, sizeof nums);
    hash_text(&h, r->actor);
    hash_text(&h, r->role);
    hash_text(&h, r->credential);
    hash_text(&h, r->action);
    hash_text(&h, r->subject);
    hash_text(&h, r->collection);
    hash_text(&h, r->record);
    hash_text(&h, r->categories);
    hash_text(&h, r->purpose);
    hash_text(&h, r->recipient);
    hash_text(&h, r->decision);
    hash_text(&h, r->reason);
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

struct verify {
    const unsigned char *pk;
    struct pv_audit_report *rep;
    unsigned char prev[PV_HASH_BYTES];
    int64_t expect; /* the next sequence number */
    int64_t total;
    void (*progress)(int64_t, int64_t, void *);
    void *arg;
    /* checkpoints, in sequence order, checked as the scan passes them */
    struct pv_checkpoint *cps;
    size_t ncps, cap, cp_next;
};

static int fail(struct verify *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct verify *v, int64_t seq, const char *fmt, ...)
{
    va_list ap;

    v->rep->bad_seq = seq;
    va_start(ap, fmt);
    (void)vsnprintf(v->rep->problem, sizeof v->rep->problem, fmt, ap);
    va_end(ap);
    return PV_ETAMPER;
}

static int
check_signature(struct verify *v, const struct pv_checkpoint *k)
{
    unsigned char msg[PV_CHECKPOINT_MSG_BYTES];

    pv_checkpoint_message(k, msg);
    v->rep->checkpoints++;
    return pv_sig_verify(v->pk, msg, sizeof msg, k->sig);
}

static int
collect_checkpoint(const struct pv_checkpoint *k, void *arg)
{
    struct verify *v = arg;

    struct pv_checkpoint *p;

    if (v->ncps == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        if ((p = realloc(v->cps, v->cap * sizeof *p)) == NULL)
            return PV_ENOMEM;
        v->cps = p;
    }
    v->cps[v->ncps++] = *k;
    return 0;
}

static int
check_entry(const struct pv_audit_row *r, void *arg)
{
    struct verify *v = arg;
    unsigned char h[PV_HASH_BYTES];
    const struct pv_checkpoint *k;

    if (r->seq != v->expect) {
        if (r->seq > v->expect)
            return fail(v, v->expect,
                        "audit entry %lld is missing (deleted); the next entry present is %lld",
                        (long long)v->expect, (long long)r->seq);
        return fail(v, r->seq, "audit entry %lld appears out of sequence after %lld",
                    (long long)r->seq, (long long)v->expect - 1);
    }
    pv_audit_hash(v->prev, r, h);
    if (!pv_secret_equal(h, r->hash, PV_HASH_BYTES))
        return fail(v, r->seq,
                    "audit entry %lld does not match its hash: changed, or moved from another "
                    "position",
                    (long long)r->seq);
    while (v->cp_next < v->ncps && v->cps[v->cp_next].seq <= r->seq) {
        k = &v->cps[v->cp_next++];
        if (k->seq != r->seq)
            return fail(v, k->seq, "signed checkpoint %lld names no entry (last seen %lld)",
                        (long long)k->seq, (long long)r->seq);
        if (!pv_secret_equal(k->hash, h, PV_HASH_BYTES))
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
    v->rep->entries++;
    if (v->progress && (v->rep->entries & 0xffff) == 0)
        v->progress(v->rep->entries, v->total, v->arg);
    return 0;
}

int
pv_audit_verify(struct pv_conn *c, const unsigned char pk[PV_SIGN_PK_BYTES],
                struct pv_audit_report *rep,
                void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct pv_checkpoint head;
    struct verify *v;
    int64_t last;
    int rc, have_head;

    memset(rep, 0, sizeof *rep);
    v = calloc(1, sizeof *v);
    if (v == NULL)
        return PV_ENOMEM;
    v->pk = pk;
    v->rep = rep;
    v->expect = 1;
    v->progress = progress;
    v->arg = arg;
    v->total = pv_store_audit_count(c);

    rc = pv_store_head_get(c, &head);
    have_head = rc == 0;
    if (rc == PV_ENOTFOUND)
        rc = 0;
    if (rc == PV_ETAMPER)
        rc = fail(v, 1, "the signed head is malformed");
    if (rc == 0)
        rc = pv_store_checkpoint_scan(c, collect_checkpoint, v);
    if (rc == PV_ETAMPER)
        rc = fail(v, 1, "a signed checkpoint is malformed");
    if (rc == 0)
        rc = pv_store_audit_scan(c, 1, check_entry, v);
    last = v->expect - 1;
    if (rc == 0 && v->cp_next < v->ncps)
        rc = fail(v, last + 1,
                  "signed checkpoint %lld lies past the last entry %lld: entries were removed "
                  "(truncated)",
                  (long long)v->cps[v->cp_next].seq, (long long)last);
    if (rc == 0 && !have_head && last > 0)
        rc = fail(v, last, "the signed head is missing although the log holds %lld entries",
                  (long long)last);
    if (rc == 0 && have_head) {
        if (head.seq > last)
            rc = fail(v, last + 1,
                      "the log ends at entry %lld but the signed head covers %lld: entries were "
                      "removed (truncated)",
                      (long long)last, (long long)head.seq);
        else if (head.seq < last)
            rc = fail(v, head.seq + 1,
                      "entries after %lld are not covered by the signed head (%lld entries)",
                      (long long)head.seq, (long long)last);
        else if (!pv_secret_equal(head.hash, v->prev, PV_HASH_BYTES))
            rc = fail(v, last, "the chain differs from the signed head at entry %lld",
                      (long long)last);
        else if (check_signature(v, &head) != 0)
            rc = fail(v, last, "the signature of the head at entry %lld is invalid",
                      (long long)last);
    }
    if (rc == 0 && progress)
        progress(rep->entries, v->total, arg);
    free(v->cps);
    free(v);
    return rc;
}
