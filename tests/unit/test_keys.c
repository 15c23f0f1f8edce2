/*
 * test_keys.c: master key rotation on the key file and in a loaded keyring
 * (reloaded while other threads use it), and two audit committers (two
 * processes: the server and a command-line sweep or rotation) appending to
 * one log.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "testutil.h"

#include "audit/audit.h"
#include "crypto/crypto.h"

static char *
slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    (void)fclose(f);
    return buf;
}

static void
test_rotation_adds_rewraps_and_retires(void **state)
{
    char dir[64], path[128], other[128];
    struct pv_keyring *kr, *foreign;
    unsigned char w1[PV_WRAPPED_BYTES], w2[PV_WRAPPED_BYTES];
    struct pv_dkey dk, out;
    struct stat st;
    uint32_t mv1, mv2, v, versions[16];

    (void)state;
    make_temp_dir(dir);
    test_snprintf(path, sizeof path, "%s/master.key", dir);
    test_snprintf(other, sizeof other, "%s/other.key", dir);
    assert_int_equal(pv_keyring_create(path), 0);
    assert_int_equal(pv_keyring_load(path, &kr), 0);
    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_keyring_wrap(kr, "sub_a", &dk, w1, &mv1), 0);
    assert_int_equal(mv1, 1);

    /* A new version in the file; this keyring learns of it only when reloaded. */
    assert_int_equal(pv_keyring_file_add(path, &v), 0);
    assert_int_equal(v, 2);
    assert_false(pv_keyring_has(kr, 2));
    assert_int_equal(pv_keyring_reload(kr), 0);
    assert_true(pv_keyring_has(kr, 1));
    assert_true(pv_keyring_has(kr, 2));
    assert_int_equal(pv_keyring_active(kr), 2);
    assert_int_equal(pv_keyring_versions(kr, versions, 16), 2);

    /* Rewrap: open under 1, wrap under 2. */
    assert_int_equal(pv_keyring_unwrap(kr, "sub_a", 1, 1, w1, sizeof w1, &out), 0);
    assert_int_equal(pv_keyring_wrap(kr, "sub_a", &out, w2, &mv2), 0);
    assert_int_equal(mv2, 2);

    /* Retire 1: the file keeps version 2 alone, still private. */
    assert_int_equal(pv_keyring_file_retire(path, 7), PV_ENOTFOUND);
    assert_int_equal(pv_keyring_file_retire(path, 2), 0);
    assert_null(strstr(slurp(path), "master 1 "));
    assert_non_null(strstr(slurp(path), "master 2 "));
    assert_non_null(strstr(slurp(path), "active 2\n"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(pv_keyring_reload(kr), 0);
    assert_false(pv_keyring_has(kr, 1));
    /* The old wrapping opens nothing now; the new one opens the same key. */
    assert_int_equal(pv_keyring_unwrap(kr, "sub_a", 1, 1, w1, sizeof w1, &out), PV_ECRYPTO);
    assert_int_equal(pv_keyring_unwrap(kr, "sub_a", 2, 1, w2, sizeof w2, &out), 0);
    assert_memory_equal(out.k, dk.k, PV_KEY_BYTES);

    /* A key file of another data directory (another index key) is refused. */
    assert_int_equal(pv_keyring_create(other), 0);
    assert_int_equal(pv_keyring_load(other, &foreign), 0);
    pv_keyring_free(foreign);
    assert_int_equal(rename(other, path), 0);
    assert_int_equal(pv_keyring_reload(kr), PV_EINVAL);
    assert_int_equal(pv_keyring_unwrap(kr, "sub_a", 2, 1, w2, sizeof w2, &out), 0);

    pv_dkey_wipe(&dk);
    pv_dkey_wipe(&out);
    pv_keyring_free(kr);
    rm_tree(dir);
}

struct user {
    struct pv_keyring *kr;
    const unsigned char *wrapped;
    volatile int *stop;
    int failures;
    _Atomic int opened;
};

static void *
unwrap_loop(void *arg)
{
    struct user *u = arg;
    struct pv_dkey out;

    while (!*u->stop) {
        if (pv_keyring_unwrap(u->kr, "sub_b", 1, 1, u->wrapped, PV_WRAPPED_BYTES, &out) != 0)
            u->failures++;
        u->opened++;
    }
    pv_dkey_wipe(&out);
    return NULL;
}

/* Wait until each reader has opened the key once more than it had. */
static void
wait_for_reads(struct user *users, int n)
{
    int seen[8];

    for (int i = 0; i < n; i++)
        seen[i] = atomic_load(&users[i].opened);
    for (int i = 0; i < n; i++)
        while (atomic_load(&users[i].opened) <= seen[i])
            sched_yield();
}

static void
test_reload_while_in_use(void **state)
{
    char dir[64], path[128];
    unsigned char w[PV_WRAPPED_BYTES];
    struct pv_keyring *kr;
    struct user users[4];
    pthread_t t[4];
    volatile int stop = 0;
    struct pv_dkey dk;
    uint32_t mv, v;

    (void)state;
    make_temp_dir(dir);
    test_snprintf(path, sizeof path, "%s/master.key", dir);
    assert_int_equal(pv_keyring_create(path), 0);
    assert_int_equal(pv_keyring_load(path, &kr), 0);
    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_keyring_wrap(kr, "sub_b", &dk, w, &mv), 0);
    for (int i = 0; i < 4; i++) {
        users[i].kr = kr;
        users[i].wrapped = w;
        users[i].stop = &stop;
        users[i].failures = 0;
        atomic_init(&users[i].opened, 0);
        assert_int_equal(pthread_create(&t[i], NULL, unwrap_loop, &users[i]), 0);
    }
    /* Every reader is reading before the first reload (on a busy machine a thread may not have
     * run yet), and reads again after the last one. */
    wait_for_reads(users, 4);
    /* Versions come and the keyring reloads under the readers' feet; version 1 stays. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(pv_keyring_file_add(path, &v), 0);
        assert_int_equal(pv_keyring_reload(kr), 0);
        assert_int_equal(pv_keyring_active(kr), v);
    }
    wait_for_reads(users, 4);
    stop = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(users[i].failures, 0);
        assert_true(users[i].opened > 0);
    }
    pv_dkey_wipe(&dk);
    pv_keyring_free(kr);
    rm_tree(dir);
}

/* ---- two committers on one log -------------------------------------------------------- */

struct appender {
    struct pv_audit *audit;
    const char *actor;
    int n;
    int rc;
};

static void *
append_loop(void *arg)
{
    struct appender *a = arg;
    struct pv_audit_row r;

    for (int i = 0; i < a->n && a->rc == 0; i++) {
        memset(&r, 0, sizeof r);
        r.actor = a->actor;
        r.action = "record.read";
        r.decision = "permit";
        r.reason = "permit";
        a->rc = pv_audit_commit(a->audit, &r, 1, NULL, NULL);
    }
    return NULL;
}

static int
count_actor(const struct pv_audit_row *r, void *arg)
{
    int *n = arg;

    n[strcmp(r->actor, "server") == 0 ? 0 : 1]++;
    return 0;
}

static void
test_two_processes_append_to_one_chain(void **state)
{
    char dir[64], key[128], pub[128];
    unsigned char pk[PV_SIGN_PK_BYTES];
    struct pv_store *s1, *s2;
    struct pv_audit *a1, *a2;
    struct pv_audit_report rep;
    struct appender ap[2];
    struct pv_conn *c;
    pthread_t t[2];
    int counts[2] = {0, 0};

    (void)state;
    make_temp_dir(dir);
    test_snprintf(key, sizeof key, "%s/audit.key", dir);
    test_snprintf(pub, sizeof pub, "%s/audit.pub", dir);
    assert_int_equal(pv_signer_create(key, pub), 0);
    assert_int_equal(pv_sig_load_public(pub, pk), 0);
    /* Two stores on one directory: each has its own connections, as two processes would. */
    assert_int_equal(pv_store_open(dir, &s1), 0);
    assert_int_equal(pv_store_open(dir, &s2), 0);
    assert_int_equal(pv_audit_open(s1, key, &a1), 0);
    assert_int_equal(pv_audit_open(s2, key, &a2), 0);
    ap[0] = (struct appender){a1, "server", 600, 0};
    ap[1] = (struct appender){a2, "sweep", 600, 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, append_loop, &ap[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ap[i].rc, 0);
    }
    pv_audit_close(a2);
    pv_audit_close(a1);
    /* One chain of 1200 entries, checkpoints and head signed, whoever wrote each. */
    assert_int_equal(pv_store_conn_open(s1, 0, &c), 0);
    assert_int_equal(pv_audit_verify(c, pk, &rep, NULL, NULL), 0);
    assert_int_equal(rep.entries, 1200);
    assert_true(rep.checkpoints >= 2);
    assert_int_equal(pv_store_audit_scan(c, 1, count_actor, counts), 0);
    assert_int_equal(counts[0], 600);
    assert_int_equal(counts[1], 600);
    pv_store_conn_close(c);
    pv_store_close(s2);
    pv_store_close(s1);
    rm_tree(dir);
}

/* A log cut short behind the server's back is not continued (and re-signed): it fails closed. */
static void
test_cut_log_is_not_continued(void **state)
{
    char dir[64], key[128], pub[128], db[128];
    unsigned char pk[PV_SIGN_PK_BYTES];
    struct pv_audit_report rep;
    struct appender ap;
    struct pv_audit_row r;
    struct pv_store *s;
    struct pv_audit *a;
    struct pv_conn *c;
    sqlite3 *raw;

    (void)state;
    make_temp_dir(dir);
    test_snprintf(key, sizeof key, "%s/audit.key", dir);
    test_snprintf(pub, sizeof pub, "%s/audit.pub", dir);
    test_snprintf(db, sizeof db, "%s/phivault.db", dir);
    assert_int_equal(pv_signer_create(key, pub), 0);
    assert_int_equal(pv_sig_load_public(pub, pk), 0);
    assert_int_equal(pv_store_open(dir, &s), 0);
    assert_int_equal(pv_audit_open(s, key, &a), 0);
    ap = (struct appender){a, "server", 20, 0};
    append_loop(&ap);
    assert_int_equal(ap.rc, 0);
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "DELETE FROM audit WHERE seq > 15", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    memset(&r, 0, sizeof r);
    r.actor = "server";
    r.action = "record.read";
    assert_int_equal(pv_audit_commit(a, &r, 1, NULL, NULL), PV_EAUDIT);
    pv_audit_close(a);
    assert_int_equal(pv_store_conn_open(s, 0, &c), 0);
    assert_int_equal(pv_audit_verify(c, pk, &rep, NULL, NULL), PV_ETAMPER);
    assert_non_null(strstr(rep.problem, "truncated"));
    pv_store_conn_close(c);
    pv_store_close(s);
    rm_tree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_adds_rewraps_and_retires),
        cmocka_unit_test(test_reload_while_in_use),
        cmocka_unit_test(test_two_processes_append_to_one_chain),
        cmocka_unit_test(test_cut_log_is_not_continued),
    };

    assert_int_equal(pv_crypto_init(2), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
