/*
 * test_audit.c: the audit chain, its group commit, and verification
 * against each tampering: change, deletion, reordering, truncation (and a
 * rewritten chain, a removed or forged head).
 */
#include <pthread.h>

#include <sqlite3.h>

#include "testutil.h"

#include "audit/audit.h"

#define N 2500

struct fixture {
    char dir[64], key[128], pub[128], db[128];
    unsigned char pk[PV_SIGN_PK_BYTES];
    struct pv_store *store;
    struct pv_audit *audit;
};

static void
entry(struct pv_audit_row *r, int i, char reason[32])
{
    memset(r, 0, sizeof *r);
    test_snprintf(reason, 32, "r%d", i);
    r->actor = i % 2 ? "usr_a" : "usr_b";
    r->role = "provider";
    r->action = "record.read";
    r->subject = "sub_x";
    r->collection = "visits";
    r->purpose = "treatment";
    r->decision = "permit";
    r->reason = reason;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    static struct pv_audit_row r[100];
    static char reason[100][32];

    make_temp_dir(f->dir);
    test_snprintf(f->key, sizeof f->key, "%s/audit.key", f->dir);
    test_snprintf(f->pub, sizeof f->pub, "%s/audit.pub", f->dir);
    test_snprintf(f->db, sizeof f->db, "%s/phivault.db", f->dir);
    assert_int_equal(pv_signer_create(f->key, f->pub), 0);
    assert_int_equal(pv_sig_load_public(f->pub, f->pk), 0);
    assert_int_equal(pv_store_open(f->dir, &f->store), 0);
    assert_int_equal(pv_audit_open(f->store, f->key, &f->audit), 0);
    /* In batches of 100 entries a commit (the batch form callers like look-ups use). */
    for (int i = 1; i <= N; i += 100) {
        for (int k = 0; k < 100; k++)
            entry(&r[k], i + k, reason[k]);
        assert_int_equal(pv_audit_commit(f->audit, r, 100, NULL, NULL), 0);
        for (int k = 0; k < 100; k++)
            assert_int_equal(r[k].seq, i + k);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    pv_audit_close(f->audit);
    pv_store_close(f->store);
    rm_tree(f->dir);
    free(f);
    return 0;
}

/* Run SQL on the database behind phivault's back, as an attacker with file access would. */
static void
tamper(struct fixture *f, const char *sql)
{
    sqlite3 *db;
    char *err = NULL;

    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("tamper: %s", err);
    sqlite3_close(db);
}

/*
 * Verify in one range, and in 2, 3 and 7 ranges at once (their boundaries fall on different
 * entries): every way must give the same answer, down to the problem's words.
 */
static int
verify(struct fixture *f, struct pv_audit_report *rep)
{
    static const int ranges[] = {2, 3, 7};
    struct pv_audit_report other;
    struct pv_conn *c;
    int rc;

    assert_int_equal(pv_store_conn_open(f->store, 0, &c), 0);
    rc = pv_audit_verify(c, f->pk, rep, NULL, NULL);
    pv_store_conn_close(c);
    for (size_t i = 0; i < PV_ARRAY_LEN(ranges); i++) {
        assert_int_equal(pv_audit_verify_store(f->store, ranges[i], f->pk, &other, NULL, NULL), rc);
        assert_int_equal(other.bad_seq, rep->bad_seq);
        assert_string_equal(other.problem, rep->problem);
        if (rc == 0) {
            assert_int_equal(other.entries, rep->entries);
            assert_int_equal(other.checkpoints, rep->checkpoints);
        }
    }
    return rc;
}

static void
test_intact_log_verifies(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.entries, N);
    /* Checkpoints at 1000 and 2000, and the head. */
    assert_int_equal(rep.checkpoints, 3);
    assert_int_equal(rep.bad_seq, 0);
}

static void
test_changed_entry_is_named(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "UPDATE audit SET decision = 'deny' WHERE seq = 57");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 57);
    assert_non_null(strstr(rep.problem, "audit entry 57 does not match its hash"));
}

static void
test_deleted_entry_is_named(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "DELETE FROM audit WHERE seq = 1234");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 1234);
    assert_non_null(strstr(rep.problem, "audit entry 1234 is missing"));
}

/* With 3 ranges of 2500 entries the second starts at 834: tamper on both sides of it. */
static void
test_tampering_at_a_range_boundary_is_named(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "DELETE FROM audit WHERE seq = 833");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 833);
    tamper(f, "DELETE FROM audit WHERE seq = 834; UPDATE audit SET reason = 'x' WHERE seq = 1667");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 833);
    assert_non_null(strstr(rep.problem, "the next entry present is 835"));
}

static void
test_reordered_entries_are_named(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "UPDATE audit SET seq = -1 WHERE seq = 300;"
              "UPDATE audit SET seq = 300 WHERE seq = 301;"
              "UPDATE audit SET seq = 301 WHERE seq = -1;");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 300);
}

static void
test_truncated_tail_is_found(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "DELETE FROM audit WHERE seq > 2490");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 2491);
    assert_non_null(strstr(rep.problem, "truncated"));
}

static void
test_truncation_past_a_checkpoint_is_found(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    /* Cut the log, the later checkpoint and re-point nothing: the checkpoint at 2000 remains. */
    tamper(f, "DELETE FROM audit WHERE seq > 1500; DELETE FROM audit_head;");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 1501);
}

static void
test_rewritten_chain_is_found(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;
    unsigned char prev[PV_HASH_BYTES], h[PV_HASH_BYTES];
    struct pv_audit_row r;
    char reason[32];
    sqlite3 *db;
    sqlite3_stmt *st;

    /* Change entry 1500 and recompute every hash after it: only the signatures catch it. */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = 1499", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    memcpy(prev, sqlite3_column_blob(st, 0), PV_HASH_BYTES);
    sqlite3_finalize(st);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int i = 1500; i <= N; i++) {
        entry(&r, i, reason);
        if (i == 1500)
            r.decision = "deny";
        r.seq = i;
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT ts FROM audit WHERE seq = ?", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int(st, 1, i);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        r.ts_ms = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        pv_audit_hash(prev, &r, h);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "UPDATE audit SET decision = ?, hash = ? WHERE seq = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, r.decision, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, h, PV_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, i);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        memcpy(prev, h, PV_HASH_BYTES);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_int_equal(rep.bad_seq, 2000);
    assert_non_null(strstr(rep.problem, "signed checkpoint"));
}

static void
test_head_removed_or_forged_is_found(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;

    tamper(f, "UPDATE audit_head SET sig = zeroblob(64)");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_non_null(strstr(rep.problem, "signature of the head"));
    tamper(f, "DELETE FROM audit_head");
    assert_int_equal(verify(f, &rep), PV_ETAMPER);
    assert_non_null(strstr(rep.problem, "signed head is missing"));
}

static void
test_truncated_log_will_not_be_extended(void **state)
{
    struct fixture *f = *state;
    struct pv_audit *again;

    pv_audit_close(f->audit);
    f->audit = NULL;
    tamper(f, "DELETE FROM audit WHERE seq > 2400");
    assert_int_equal(pv_audit_open(f->store, f->key, &again), PV_ETAMPER);
}

/* ---- group commit -------------------------------------------------------------- */

static int
put_meta(struct pv_conn *w, void *arg)
{
    return pv_store_meta_put(w, arg, "applied");
}

static int
put_meta_then_fail(struct pv_conn *w, void *arg)
{
    int rc = pv_store_meta_put(w, arg, "applied");
    return rc ? rc : PV_ECONFLICT;
}

static int
meta_present(struct fixture *f, const char *key)
{
    struct pv_conn *c;
    char v[32];
    int rc;

    assert_int_equal(pv_store_conn_open(f->store, 0, &c), 0);
    rc = pv_store_meta_get(c, key, v, sizeof v);
    pv_store_conn_close(c);
    return rc == 0;
}

static void
test_apply_commits_with_its_entry(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_row r;
    char reason[32];

    entry(&r, 9001, reason);
    assert_int_equal(pv_audit_commit(f->audit, &r, 1, put_meta, "k1"), 0);
    assert_true(meta_present(f, "k1"));
    /* A failing apply is rolled back, its decision still recorded. */
    entry(&r, 9002, reason);
    assert_int_equal(pv_audit_commit(f->audit, &r, 1, put_meta_then_fail, "k2"), PV_ECONFLICT);
    assert_false(meta_present(f, "k2"));
    assert_int_equal(r.seq, N + 2);
}

static void
test_audit_failure_fails_closed(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;
    struct pv_audit_row r;
    char reason[32];

    tamper(f,
           "CREATE TRIGGER no_room BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'full'); END");
    entry(&r, 9100, reason);
    assert_int_equal(pv_audit_commit(f->audit, &r, 1, put_meta, "k3"), PV_EAUDIT);
    assert_false(meta_present(f, "k3"));
    tamper(f, "DROP TRIGGER no_room");
    /* The chain goes on where it was, unbroken. */
    entry(&r, 9101, reason);
    assert_int_equal(pv_audit_commit(f->audit, &r, 1, put_meta, "k4"), 0);
    assert_int_equal(r.seq, N + 1);
    assert_true(meta_present(f, "k4"));
    assert_int_equal(verify(f, &rep), 0);
}

struct worker {
    struct fixture *f;
    int failures;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    struct pv_audit_row r;
    char reason[32];

    for (int i = 0; i < 500; i++) {
        entry(&r, i, reason);
        if (pv_audit_commit(w->f->audit, &r, 1, NULL, NULL) != 0)
            w->failures++;
    }
    return NULL;
}

static void
test_concurrent_commits_keep_one_chain(void **state)
{
    struct fixture *f = *state;
    struct pv_audit_report rep;
    struct worker w[8];
    pthread_t t[8];

    for (int i = 0; i < 8; i++) {
        w[i].f = f;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(verify(f, &rep), 0);
    assert_int_equal(rep.entries, N + 8 * 500);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact_log_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reordered_entries_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_at_a_range_boundary_is_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_tail_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_past_a_checkpoint_is_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_chain_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_removed_or_forged_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_log_will_not_be_extended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_commits_with_its_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_failure_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_commits_keep_one_chain, setup, teardown),
    };

    if (pv_crypto_init(2) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
