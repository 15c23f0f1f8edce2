/*
 * fuzz_audit_log.c: the audit log reader: pv_audit_verify() and the audit
 * search over logs built from the input.
 *
 * The input gives a log of up to 40 entries (every text field from the
 * input's bytes, checkpoints at an interval it chooses), correctly chained
 * and signed, and then at most one tampering: a changed field, a deleted,
 * moved or re-hashed entry, a removed head, a forged signature. Verification
 * must pass the untouched log, name a first bad entry for a tampered one,
 * and never fail in any other way; checked in several ranges at once it
 * must say exactly the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 40
#define NFIELDS 12

static char dir[64];
static struct pv_store *store;
static struct pv_conn *w, *rd;
static struct pv_signer *signer;
static unsigned char pk[PV_SIGN_PK_BYTES];

static void
check(int ok, const char *what)
{
    fuzz_check(ok, "fuzz_audit_log", what);
}

static void
cleanup(void)
{
    pv_store_conn_close(rd);
    pv_store_conn_close(w);
    pv_store_close(store);
    pv_signer_free(signer);
    fuzz_rm_tree(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char key[128], pub[128];

    (void)argc;
    (void)argv;
    check(pv_crypto_init(1) == 0, "libsodium");
    fuzz_temp_dir(dir);
    fuzz_fmt(key, sizeof key, "%s/audit.key", dir);
    fuzz_fmt(pub, sizeof pub, "%s/audit.pub", dir);
    check(pv_signer_create(key, pub) == 0 && pv_signer_load(key, &signer) == 0, "audit key");
    pv_signer_public(signer, pk);
    check(pv_store_open(dir, &store) == 0, "store");
    check(pv_store_conn_open(store, 1, &w) == 0 && pv_store_conn_open(store, 0, &rd) == 0, "conns");
    check(atexit(cleanup) == 0, "atexit");
    return 0;
}

/* The input, consumed a byte at a time; past its end every byte is 0. */
struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned
byte(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static void
sign(const unsigned char hash[PV_HASH_BYTES], int64_t seq, int64_t ts, struct pv_checkpoint *k)
{
    unsigned char msg[PV_CHECKPOINT_MSG_BYTES];

    k->seq = seq;
    k->ts_ms = ts;
    memcpy(k->hash, hash, PV_HASH_BYTES);
    pv_checkpoint_message(k, msg);
    pv_signer_sign(signer, msg, sizeof msg, k->sig);
}

static int
seen_row(const struct pv_audit_row *r, void *arg)
{
    int *n = arg;

    check(r->actor && r->subject && r->reason && r->categories, "a row with a NULL field");
    (*n)++;
    return 0;
}

/* A tampering: SQL run on the writer, and whether it changed a row. */
static int
tamper(const char *sql)
{
    check(pv_store_exec(w, sql) == 0, "tampering SQL failed");
    return pv_store_changes(w) > 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_ENTRIES][NFIELDS][17];
    struct input in = {data, size};
    struct pv_audit_row r;
    struct pv_audit_report rep;
    struct pv_audit_filter filter;
    struct pv_checkpoint k;
    unsigned char prev[PV_HASH_BYTES] = {0};
    unsigned n = byte(&in) % (MAX_ENTRIES + 1), every = 1 + byte(&in) % 8, kind, i, j;
    char sql[256];
    int tampered = 0, rc, rows = 0;

    check(pv_store_exec(w, "BEGIN; DELETE FROM audit; DELETE FROM audit_checkpoints;"
                           " DELETE FROM audit_head; COMMIT") == 0,
          "reset");
    check(pv_store_begin(w) == 0, "begin");
    for (i = 0; i < n; i++) {
        const char **f[NFIELDS] = {&r.actor,   &r.role,       &r.credential, &r.action,
                                   &r.subject, &r.collection, &r.record,     &r.categories,
                                   &r.purpose, &r.recipient,  &r.decision,   &r.reason};

        memset(&r, 0, sizeof r);
        r.seq = i + 1;
        r.ts_ms = (int64_t)byte(&in) << 8;
        r.ts_ms |= byte(&in);
        for (int t = 0; t < NFIELDS; t++) {
            unsigned len = byte(&in) % 17;
            for (unsigned c = 0; c < len; c++)
                text[i][t][c] = (char)(byte(&in) | 1); /* no NUL inside a field */
            text[i][t][len] = '\0';
            *f[t] = text[i][t];
        }
        pv_audit_hash(prev, &r, r.hash);
        memcpy(prev, r.hash, PV_HASH_BYTES);
        check(pv_store_audit_insert(w, &r) == 0, "insert");
        if ((i + 1) % every == 0) {
            sign(prev, r.seq, r.ts_ms, &k);
            check(pv_store_checkpoint_put(w, &k) == 0, "checkpoint");
        }
    }
    if (n > 0) {
        sign(prev, n, 0, &k);
        check(pv_store_head_put(w, &k) == 0, "head");
    }
    check(pv_store_commit(w) == 0, "commit");

    kind = byte(&in) % 8;
    i = 1 + (n ? byte(&in) % n : 0);
    j = 1 + (n ? byte(&in) % n : 0);
    switch (kind) {
    case 1:
        fuzz_fmt(sql, sizeof sql, "UPDATE audit SET reason = reason || 'x' WHERE seq = %u", i);
        tampered = tamper(sql);
        break;
    case 2:
        fuzz_fmt(sql, sizeof sql, "DELETE FROM audit WHERE seq = %u", i);
        tampered = tamper(sql);
        break;
    case 3:
        if (i != j) {
            fuzz_fmt(sql, sizeof sql,
                     "UPDATE audit SET seq = -1 WHERE seq = %u; UPDATE audit SET seq = %u WHERE seq"
                     " = %u; UPDATE audit SET seq = %u WHERE seq = -1",
                     i, i, j, j);
            tampered = tamper(sql);
        }
        break;
    case 4:
        fuzz_fmt(sql, sizeof sql, "UPDATE audit SET hash = zeroblob(32) WHERE seq = %u", i);
        tampered = tamper(sql);
        break;
    case 5:
        tampered = tamper("DELETE FROM audit_head");
        break;
    case 6:
        tampered = tamper("UPDATE audit_head SET sig = zeroblob(64)");
        break;
    case 7:
        fuzz_fmt(sql, sizeof sql, "UPDATE audit_checkpoints SET sig = zeroblob(64) WHERE seq = %u",
                 i);
        tampered = tamper(sql);
        break;
    default:
        break;
    }

    rc = pv_audit_verify(rd, pk, &rep, NULL, NULL);
    {
        /* Checked in ranges at once, the answer must be the same, word for word. */
        struct pv_audit_report par;
        int prc = pv_audit_verify_store(store, 2 + (int)(byte(&in) % 3), pk, &par, NULL, NULL);
        check(prc == rc && par.bad_seq == rep.bad_seq && strcmp(par.problem, rep.problem) == 0,
              "verification in ranges disagrees with verification in one pass");
    }
    if (tampered) {
        check(rc == PV_ETAMPER, "a tampered log passed verification");
        check(rep.bad_seq >= 1 && rep.problem[0] != '\0', "tampering without a first bad entry");
    } else {
        check(rc == 0, "an intact log failed verification");
        check(rep.entries == (int64_t)n, "entries miscounted");
    }

    /* The search reads the same rows, whatever they hold. */
    memset(&filter, 0, sizeof filter);
    filter.subject = n && (byte(&in) & 1) ? text[0][4] : NULL;
    filter.actor = n && (byte(&in) & 1) ? text[0][0] : NULL;
    filter.limit = 1 + (int)(byte(&in) % 50);
    check(pv_store_audit_query(rd, &filter, seen_row, &rows) == 0, "audit search");
    check(rows <= filter.limit, "the search passed its limit");
    return 0;
}
