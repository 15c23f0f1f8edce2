/* test_store.c: the typed store functions on the SQLite backend. */
#include "testutil.h"

#include "store/store.h"

struct fixture {
    char dir[64];
    struct pv_store *s;
    struct pv_conn *w;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    make_temp_dir(f->dir);
    assert_int_equal(pv_store_open(f->dir, &f->s), 0);
    assert_int_equal(pv_store_conn_open(f->s, 1, &f->w), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    pv_store_conn_close(f->w);
    pv_store_close(f->s);
    rm_tree(f->dir);
    free(f);
    return 0;
}

static void
put_record(struct fixture *f, const char *id, int64_t created, const char *body)
{
    struct pv_record r;

    memset(&r, 0, sizeof r);
    pv_strlcpy(r.id, id, sizeof r.id);
    pv_strlcpy(r.subject_id, "sub_1", sizeof r.subject_id);
    pv_strlcpy(r.collection, "visits", sizeof r.collection);
    r.created = r.updated = created;
    pv_buf_init(&r.body, 1024);
    pv_buf_puts(&r.body, body);
    assert_int_equal(pv_store_record_put(f->w, &r, "user.health"), 0);
    pv_buf_fini(&r.body);
}

struct seen {
    char ids[10][PV_ID_MAX];
    int n;
};

static int
collect(const struct pv_record *r, void *arg)
{
    struct seen *s = arg;

    pv_strlcpy(s->ids[s->n++], r->id, PV_ID_MAX);
    return 0;
}

static void
test_records(void **state)
{
    struct fixture *f = *state;
    struct pv_record r;
    struct seen s;

    put_record(f, "rec_b", 2000, "two");
    put_record(f, "rec_a", 1000, "one");
    put_record(f, "rec_c", 3000, "three");
    memset(&r, 0, sizeof r);
    pv_buf_init(&r.body, 1024);
    assert_int_equal(pv_store_record_get(f->w, "sub_1", "visits", "rec_b", &r), 0);
    assert_string_equal(r.body.data, "two");
    /* The same id under another subject or collection is not found. */
    assert_int_equal(pv_store_record_get(f->w, "sub_2", "visits", "rec_b", &r), PV_ENOTFOUND);
    assert_int_equal(pv_store_record_get(f->w, "sub_1", "notes", "rec_b", &r), PV_ENOTFOUND);
    pv_buf_fini(&r.body);
    /* Listing follows creation order and pages with "after". */
    memset(&s, 0, sizeof s);
    assert_int_equal(pv_store_record_list(f->w, "sub_1", "visits", NULL, 2, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "rec_a");
    assert_string_equal(s.ids[1], "rec_b");
    memset(&s, 0, sizeof s);
    assert_int_equal(pv_store_record_list(f->w, "sub_1", "visits", "rec_b", 2, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], "rec_c");
    assert_int_equal(pv_store_record_delete(f->w, "sub_1", "visits", "rec_c"), 0);
    assert_int_equal(pv_store_record_delete(f->w, "sub_1", "visits", "rec_c"), PV_ENOTFOUND);
}

static void
test_uniqueness_is_eexist(void **state)
{
    struct fixture *f = *state;

    put_record(f, "rec_x", 1, "x");
    struct pv_record r;
    memset(&r, 0, sizeof r);
    pv_strlcpy(r.id, "rec_x", sizeof r.id);
    pv_buf_init(&r.body, 16);
    assert_int_equal(pv_store_record_put(f->w, &r, ""), PV_EEXIST);
    pv_buf_fini(&r.body);
}

static void
test_reader_is_per_thread_and_read_only(void **state)
{
    struct fixture *f = *state;
    struct pv_conn *a, *b;

    assert_int_equal(pv_store_reader(f->s, &a), 0);
    assert_int_equal(pv_store_reader(f->s, &b), 0);
    assert_ptr_equal(a, b);
    assert_int_not_equal(pv_store_meta_put(a, "x", "y"), 0);
}

/* ---- the row caches: every write that changes a cached row is seen at once ---- */

static void
put_user_session(struct pv_conn *w, const char *uid, unsigned char token)
{
    struct pv_user u;
    struct pv_session ss;

    memset(&u, 0, sizeof u);
    test_snprintf(u.id, sizeof u.id, "%s", uid);
    memset(u.name_index, token, sizeof u.name_index);
    u.name_sealed_len = 4;
    test_snprintf(u.role, sizeof u.role, "provider");
    test_snprintf(u.pw_hash, sizeof u.pw_hash, "hash");
    memset(&ss, 0, sizeof ss);
    memset(ss.token_hash, token, sizeof ss.token_hash);
    test_snprintf(ss.id, sizeof ss.id, "ses_%c", 'a' + token % 26);
    test_snprintf(ss.user_id, sizeof ss.user_id, "%s", uid);
    ss.expires = INT64_MAX;
    assert_int_equal(pv_store_begin(w), 0);
    assert_int_equal(pv_store_user_put(w, &u), 0);
    assert_int_equal(pv_store_session_put(w, &ss), 0);
    assert_int_equal(pv_store_assign_put(w, "sub_1", uid, 1), 0);
    assert_int_equal(pv_store_commit(w), 0);
}

static int
session_of(struct pv_conn *r, unsigned char token, struct pv_user *u)
{
    unsigned char h[PV_HASH_BYTES];
    struct pv_session ss;

    memset(h, token, sizeof h);
    return pv_store_session_get(r, h, &ss, u);
}

static void
test_cache_sees_logout_disable_unassign(void **state)
{
    struct fixture *f = *state;
    struct pv_conn *r;
    struct pv_user u;

    put_user_session(f->w, "usr_1", 7);
    assert_int_equal(pv_store_reader(f->s, &r), 0);
    /* Read twice: the second answer comes from the cache. */
    assert_int_equal(session_of(r, 7, &u), 0);
    assert_int_equal(session_of(r, 7, &u), 0);
    assert_int_equal(u.disabled, 0);
    assert_int_equal(pv_store_assign_get(r, "sub_1", "usr_1"), 0);
    assert_int_equal(pv_store_assign_get(r, "sub_1", "usr_1"), 0);

    /* A user disabled in a transaction: seen by the next read. */
    assert_int_equal(pv_store_begin(f->w), 0);
    assert_int_equal(pv_store_exec(f->w, "UPDATE users SET disabled = 1 WHERE id = 'usr_1'"), 0);
    /* Not before the commit: the reader sees the committed state, cached or not. */
    assert_int_equal(session_of(r, 7, &u), 0);
    assert_int_equal(u.disabled, 0);
    assert_int_equal(pv_store_commit(f->w), 0);
    assert_int_equal(session_of(r, 7, &u), 0);
    assert_int_equal(u.disabled, 1);

    /* A removed assignment, by a statement of any shape. */
    assert_int_equal(pv_store_begin(f->w), 0);
    assert_int_equal(pv_store_exec(f->w, "DELETE FROM assignments WHERE user_id = 'usr_1'"), 0);
    assert_int_equal(pv_store_commit(f->w), 0);
    assert_int_equal(pv_store_assign_get(r, "sub_1", "usr_1"), PV_ENOTFOUND);

    /* A logout through the typed function, outside any explicit transaction. */
    {
        unsigned char h[PV_HASH_BYTES];
        memset(h, 7, sizeof h);
        assert_int_equal(pv_store_session_delete(f->w, h), 0);
    }
    assert_int_equal(session_of(r, 7, &u), PV_ENOTFOUND);
}

static void
test_cache_survives_rollback_and_unrelated_writes(void **state)
{
    struct fixture *f = *state;
    struct pv_conn *r;
    struct pv_user u;

    put_user_session(f->w, "usr_2", 9);
    assert_int_equal(pv_store_reader(f->s, &r), 0);
    assert_int_equal(session_of(r, 9, &u), 0);
    /* A rolled-back logout changed nothing. */
    assert_int_equal(pv_store_begin(f->w), 0);
    assert_int_equal(pv_store_exec(f->w, "DELETE FROM sessions"), 0);
    assert_int_equal(pv_store_rollback(f->w), 0);
    assert_int_equal(session_of(r, 9, &u), 0);
    /* Records and audit rows do not touch what is cached. */
    put_record(f, "rec_z", 5, "body");
    assert_int_equal(session_of(r, 9, &u), 0);
}

static void
test_cache_sees_another_process(void **state)
{
    struct fixture *f = *state;
    struct pv_store *other;
    struct pv_conn *ow, *r;
    struct pv_subject sj;
    struct pv_user u;

    put_user_session(f->w, "usr_3", 11);
    memset(&sj, 0, sizeof sj);
    test_snprintf(sj.id, sizeof sj.id, "sub_1");
    test_snprintf(sj.status, sizeof sj.status, "active");
    assert_int_equal(pv_store_subject_put(f->w, &sj), 0);
    assert_int_equal(pv_store_reader(f->s, &r), 0);
    assert_int_equal(session_of(r, 11, &u), 0);
    assert_int_equal(pv_store_subject_get(r, "sub_1", &sj), 0);
    assert_string_equal(sj.status, "active");
    /* Another store on the same files stands for another process: its writes bump its own
     * caches only; ours notices them through data_version at our writer's next transaction. */
    assert_int_equal(pv_store_open(f->dir, &other), 0);
    assert_int_equal(pv_store_conn_open(other, 1, &ow), 0);
    assert_int_equal(pv_store_exec(ow, "DELETE FROM sessions; UPDATE subjects SET status = "
                                       "'restricted' WHERE id = 'sub_1'"),
                     0);
    pv_store_conn_close(ow);
    pv_store_close(other);
    assert_int_equal(pv_store_begin(f->w), 0);
    assert_int_equal(pv_store_commit(f->w), 0);
    assert_int_equal(session_of(r, 11, &u), PV_ENOTFOUND);
    assert_int_equal(pv_store_subject_get(r, "sub_1", &sj), 0);
    assert_string_equal(sj.status, "restricted");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniqueness_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_is_per_thread_and_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_sees_logout_disable_unassign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_survives_rollback_and_unrelated_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_sees_another_process, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
