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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniqueness_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_is_per_thread_and_read_only, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
