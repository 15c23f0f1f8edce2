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
    assert_int_equal(pv_store_cache_sync(f->s), 0); /* the caches are on from here */
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
    assert_int_equal(pv_store_cache_sync(f->s), 0);
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
    assert_int_equal(pv_store_cache_sync(f->s), 0);
    assert_int_equal(pv_store_reader(f->s, &r), 0);
    assert_int_equal(session_of(r, 11, &u), 0);
    assert_int_equal(pv_store_subject_get(r, "sub_1", &sj), 0);
    assert_string_equal(sj.status, "active");
    /* Another store on the same files stands for another process: its writes bump its own
     * caches only, and move the database's cache epoch. */
    assert_int_equal(pv_store_open(f->dir, &other), 0);
    assert_int_equal(pv_store_conn_open(other, 1, &ow), 0);
    assert_int_equal(pv_store_exec(ow, "DELETE FROM sessions; UPDATE subjects SET status = "
                                       "'restricted' WHERE id = 'sub_1'"),
                     0);
    pv_store_conn_close(ow);
    pv_store_close(other);
    /* Until the next sync (the next request) this process answers from its caches... */
    assert_int_equal(session_of(r, 11, &u), 0);
    assert_int_equal(pv_store_subject_get(r, "sub_1", &sj), 0);
    assert_string_equal(sj.status, "active");
    /* ...and from it on, never again. */
    assert_int_equal(pv_store_cache_sync(f->s), 0);
    assert_int_equal(session_of(r, 11, &u), PV_ENOTFOUND);
    assert_int_equal(pv_store_subject_get(r, "sub_1", &sj), 0);
    assert_string_equal(sj.status, "restricted");
}

static int64_t
count(struct fixture *f, const char *sql)
{
    static struct pv_sql q[8];
    static const char *texts[8];
    struct pv_stmt *st;
    int64_t n;
    int i;

    /* One statement slot per distinct query text. */
    for (i = 0; i < 8 && texts[i] && strcmp(texts[i], sql) != 0; i++)
        ;
    assert_true(i < 8);
    if (i >= 8)
        return -1;
    if (texts[i] == NULL) {
        texts[i] = sql;
        q[i].text = sql;
    }
    assert_int_equal(pv_stmt_prepare(f->w, &q[i], &st), 0);
    assert_int_equal(pv_stmt_step(st), PV_ROW);
    n = pv_col_int(st, 0);
    pv_stmt_reset(st);
    return n;
}

static void
put_subject(struct fixture *f, const char *id)
{
    struct pv_subject s;
    struct pv_subject_key k;

    memset(&s, 0, sizeof s);
    pv_strlcpy(s.id, id, sizeof s.id);
    pv_strlcpy(s.status, "active", sizeof s.status);
    s.birth_date_len = 5;
    memcpy(s.birth_date, "seal!", 5);
    assert_int_equal(pv_store_subject_put(f->w, &s), 0);
    memset(&k, 0, sizeof k);
    k.version = 1;
    assert_int_equal(pv_store_key_put(f->w, id, &k, 1), 0);
}

/* Erasure leaves nothing of the subject but the row that says so. */
static void
put_key(struct fixture *f, const char *user, unsigned char b, int64_t now)
{
    struct pv_public_key k;

    memset(&k, 0, sizeof k);
    pv_strlcpy(k.user_id, user, sizeof k.user_id);
    memset(k.key, b, sizeof k.key);
    k.created = k.updated = now;
    assert_int_equal(pv_store_public_key_put(f->w, &k), 0);
}

static int
collect_key(const struct pv_public_key *k, void *arg)
{
    struct seen *s = arg;

    pv_strlcpy(s->ids[s->n++], k->user_id, PV_ID_MAX);
    return 0;
}

/* Public keys: one per user, replaced in place; the users around a subject; gone with the user. */
static void
test_public_keys(void **state)
{
    struct fixture *f = *state;
    struct pv_public_key k;
    struct pv_guardian g;
    struct pv_user u;
    struct seen s;

    put_subject(f, "sub_1");
    memset(&u, 0, sizeof u);
    pv_strlcpy(u.id, "usr_own", sizeof u.id);
    pv_strlcpy(u.subject_id, "sub_1", sizeof u.subject_id);
    pv_strlcpy(u.role, "patient", sizeof u.role);
    assert_int_equal(pv_store_user_put(f->w, &u), 0);
    assert_int_equal(pv_store_assign_put(f->w, "sub_1", "usr_p", 1), 0);
    memset(&g, 0, sizeof g);
    pv_strlcpy(g.subject_id, "sub_1", sizeof g.subject_id);
    pv_strlcpy(g.user_id, "usr_g", sizeof g.user_id);
    pv_strlcpy(g.relationship, "parent", sizeof g.relationship);
    assert_int_equal(pv_store_guardian_put(f->w, &g), 0);
    assert_int_equal(pv_store_public_key_get(f->w, "usr_own", &k), PV_ENOTFOUND);
    put_key(f, "usr_own", 1, 10);
    put_key(f, "usr_p", 2, 10);
    put_key(f, "usr_g", 3, 10);
    put_key(f, "usr_x", 4, 10);
    /* A replacement keeps the first registration's time. */
    put_key(f, "usr_p", 5, 20);
    assert_int_equal(pv_store_public_key_get(f->w, "usr_p", &k), 0);
    assert_int_equal(k.key[0], 5);
    assert_int_equal(k.created, 10);
    assert_int_equal(k.updated, 20);
    memset(&s, 0, sizeof s);
    assert_int_equal(pv_store_public_key_around(f->w, "sub_1", collect_key, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ids[0], "usr_g");
    assert_string_equal(s.ids[1], "usr_own");
    assert_string_equal(s.ids[2], "usr_p");
    /* A disabled account's key goes; so does an erased person's, with their account. */
    assert_int_equal(pv_store_user_disable_subject(f->w, "sub_1"), 0);
    assert_int_equal(pv_store_public_key_get(f->w, "usr_own", &k), PV_ENOTFOUND);
    memset(&s, 0, sizeof s);
    assert_int_equal(pv_store_public_key_around(f->w, "sub_1", collect_key, &s), 0);
    assert_int_equal(s.n, 2);
    put_key(f, "usr_own", 1, 30);
    assert_int_equal(pv_store_subject_erase(f->w, "sub_1", 99), 0);
    assert_int_equal(pv_store_public_key_get(f->w, "usr_own", &k), PV_ENOTFOUND);
    assert_int_equal(pv_store_public_key_get(f->w, "usr_x", &k), 0);
}

static void
test_erase(void **state)
{
    struct fixture *f = *state;
    unsigned char d[PV_HASH_BYTES] = {1};
    struct pv_guardian g;
    struct pv_subject s;
    struct pv_user u;

    put_subject(f, "sub_1");
    put_subject(f, "sub_2");
    put_record(f, "rec_a", 1, "x");
    assert_int_equal(pv_store_index_put(f->w, "user.contact.email", d, "sub_1"), 0);
    assert_int_equal(pv_store_assign_put(f->w, "sub_1", "usr_p", 1), 0);
    assert_int_equal(pv_store_assign_put(f->w, "sub_2", "usr_p", 1), 0);
    memset(&g, 0, sizeof g);
    pv_strlcpy(g.subject_id, "sub_1", sizeof g.subject_id);
    pv_strlcpy(g.user_id, "usr_g", sizeof g.user_id);
    pv_strlcpy(g.relationship, "parent", sizeof g.relationship);
    assert_int_equal(pv_store_guardian_put(f->w, &g), 0);
    assert_int_equal(pv_store_guardian_consent(f->w, "sub_1"), PV_ENOTFOUND);
    assert_int_equal(pv_store_visibility_set(f->w, "sub_1", 1, 5), 0);
    memset(&u, 0, sizeof u);
    pv_strlcpy(u.id, "usr_own", sizeof u.id);
    pv_strlcpy(u.subject_id, "sub_1", sizeof u.subject_id);
    pv_strlcpy(u.role, "patient", sizeof u.role);
    assert_int_equal(pv_store_user_put(f->w, &u), 0);

    assert_int_equal(pv_store_subject_erase(f->w, "sub_1", 99), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM records"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM blind_index"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM assignments"), 1); /* sub_2's stays */
    assert_int_equal(count(f, "SELECT count(*) FROM guardians"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM users"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM keys.subject_keys"), 1);
    assert_int_equal(pv_store_visibility_get(f->w, "sub_1"), PV_ENOTFOUND);
    assert_int_equal(pv_store_subject_get(f->w, "sub_1", &s), 0);
    assert_string_equal(s.status, "erased");
    assert_int_equal(s.birth_date_len, 0);
    assert_int_equal(s.updated, 99);
    /* An erased subject's status and birth date no longer change. */
    assert_int_equal(pv_store_subject_set_status(f->w, "sub_1", "active", 100), PV_ENOTFOUND);
    assert_int_equal(pv_store_subject_set_birth_date(f->w, "sub_1", d, 4, 100), PV_ENOTFOUND);
    assert_int_equal(pv_store_subject_set_status(f->w, "sub_2", "restricted", 100), 0);
}

static void
test_grants(void **state)
{
    struct fixture *f = *state;
    struct pv_grant g, out;

    memset(&g, 0, sizeof g);
    pv_strlcpy(g.id, "brk_1", sizeof g.id);
    pv_strlcpy(g.subject_id, "sub_1", sizeof g.subject_id);
    pv_strlcpy(g.user_id, "usr_p", sizeof g.user_id);
    g.opened = 1000;
    g.expires = 2000;
    g.reason_len = 3;
    memcpy(g.reason, "abc", 3);
    assert_int_equal(pv_store_grant_put(f->w, &g), 0);
    assert_int_equal(pv_store_grant_active(f->w, "sub_1", "usr_p", 1999), 0);
    assert_int_equal(pv_store_grant_active(f->w, "sub_1", "usr_p", 2000), PV_ENOTFOUND);
    assert_int_equal(pv_store_grant_active(f->w, "sub_1", "usr_q", 1500), PV_ENOTFOUND);
    assert_int_equal(pv_store_grant_active(f->w, "sub_2", "usr_p", 1500), PV_ENOTFOUND);
    /* Closing ends the access at once, and happens once. */
    assert_int_equal(pv_store_grant_close(f->w, "brk_1", "justified", NULL, 0, "usr_o", 1500), 0);
    assert_int_equal(pv_store_grant_active(f->w, "sub_1", "usr_p", 1400), PV_ENOTFOUND);
    assert_int_equal(pv_store_grant_close(f->w, "brk_1", "unjustified", NULL, 0, "usr_o", 1600),
                     PV_ENOTFOUND);
    assert_int_equal(pv_store_grant_get(f->w, "brk_1", &out), 0);
    assert_string_equal(out.state, "closed");
    assert_string_equal(out.finding, "justified");
    assert_string_equal(out.closed_by, "usr_o");
    assert_int_equal(out.closed_at, 1500);
    assert_int_equal(out.expires, 1500);
    assert_memory_equal(out.reason, "abc", 3);
}

static void
test_totp_and_keys(void **state)
{
    struct fixture *f = *state;
    struct pv_totp t, out;
    struct pv_apikey k, ko;

    memset(&t, 0, sizeof t);
    pv_strlcpy(t.user_id, "usr_1", sizeof t.user_id);
    t.sealed_len = 4;
    memcpy(t.sealed, "one!", 4);
    assert_int_equal(pv_store_totp_put(f->w, &t), 0);
    memcpy(t.sealed, "two!", 4);
    assert_int_equal(pv_store_totp_put(f->w, &t), 0); /* an unconfirmed one is replaced */
    assert_int_equal(pv_store_totp_use(f->w, "usr_1", 10, 1), 0);
    assert_int_equal(pv_store_totp_use(f->w, "usr_1", 10, 0), PV_ECONFLICT); /* replayed */
    assert_int_equal(pv_store_totp_use(f->w, "usr_1", 9, 0), PV_ECONFLICT);
    assert_int_equal(pv_store_totp_use(f->w, "usr_1", 11, 0), 0);
    assert_int_equal(pv_store_totp_put(f->w, &t), PV_EEXIST); /* a confirmed one stays */
    assert_int_equal(pv_store_totp_get(f->w, "usr_1", &out), 0);
    assert_int_equal(out.confirmed, 1);
    assert_int_equal(out.last_step, 11);
    assert_memory_equal(out.sealed, "two!", 4);
    assert_int_equal(pv_store_totp_delete(f->w, "usr_1"), 0);
    assert_int_equal(pv_store_totp_delete(f->w, "usr_1"), PV_ENOTFOUND);

    memset(&k, 0, sizeof k);
    pv_strlcpy(k.id, "key_1", sizeof k.id);
    pv_strlcpy(k.name, "billing", sizeof k.name);
    k.hash[0] = 7;
    pv_strlcpy(k.roles, "staff", sizeof k.roles);
    pv_strlcpy(k.purposes, "payment,operations", sizeof k.purposes);
    assert_int_equal(pv_store_apikey_put(f->w, &k), 0);
    pv_strlcpy(k.id, "key_2", sizeof k.id);
    k.hash[0] = 8;
    assert_int_equal(pv_store_apikey_put(f->w, &k), PV_EEXIST); /* names are unique */
    k.hash[0] = 7;
    assert_int_equal(pv_store_apikey_by_hash(f->w, k.hash, &ko), 0);
    assert_string_equal(ko.purposes, "payment,operations");
    assert_int_equal(ko.revoked, 0);
    assert_int_equal(pv_store_apikey_revoke(f->w, "key_1"), 0);
    assert_int_equal(pv_store_apikey_revoke(f->w, "key_1"), PV_ENOTFOUND);
    assert_int_equal(pv_store_apikey_by_hash(f->w, k.hash, &ko), 0);
    assert_int_equal(ko.revoked, 1);
}

/* ---- rights requests ------------------------------------------------------------------ */

static int
count_cb(const struct pv_history *h, void *arg)
{
    (void)h;
    (*(int64_t *)arg)++;
    return 0;
}

static void
put_request(struct fixture *f, const char *id, int64_t received, int64_t due, const char *state)
{
    struct pv_request *r = calloc(1, sizeof *r);

    pv_strlcpy(r->id, id, sizeof r->id);
    pv_strlcpy(r->subject_id, "sub_1", sizeof r->subject_id);
    pv_strlcpy(r->type, "access", sizeof r->type);
    pv_strlcpy(r->requester, "subject", sizeof r->requester);
    pv_strlcpy(r->state, state, sizeof r->state);
    r->received = received;
    r->due = due;
    assert_int_equal(pv_store_request_put(f->w, r), 0);
    free(r);
}

static int
collect_ids(const struct pv_request *r, void *arg)
{
    struct pv_buf *out = arg;

    if (out->len)
        pv_buf_puts(out, ",");
    return pv_buf_puts(out, r->id);
}

static void
list_ids(struct fixture *f, const char *state, int overdue, int64_t now, const char *after,
         int limit, char *out)
{
    struct pv_request_filter q = {NULL, state, NULL, overdue, now, after, limit};
    struct pv_buf b;

    pv_buf_init(&b, 255);
    assert_int_equal(pv_store_request_list(f->w, &q, collect_ids, &b), 0);
    pv_strlcpy(out, b.data ? b.data : "", 256);
    pv_buf_fini(&b);
}

/* A transition writes only from the state it expects; lists filter by state and by overdue. */
static void
test_requests(void **state)
{
    struct fixture *f = *state;
    struct pv_request *r = calloc(1, sizeof *r);
    char ids[256];

    put_request(f, "req_a", 100, 1000, "received");
    put_request(f, "req_b", 200, 2000, "verified");
    put_request(f, "req_c", 300, 500, "completed");
    assert_int_equal(pv_store_request_get(f->w, "req_a", r), 0);
    pv_strlcpy(r->state, "verified", sizeof r->state);
    r->verified_at = 150;
    assert_int_equal(pv_store_request_update(f->w, r, "verified"), PV_ECONFLICT);
    assert_int_equal(pv_store_request_update(f->w, r, "received"), 0);
    assert_int_equal(pv_store_request_update(f->w, r, "received"), PV_ECONFLICT);
    pv_strlcpy(r->id, "req_none", sizeof r->id);
    assert_int_equal(pv_store_request_update(f->w, r, "received"), PV_ENOTFOUND);
    assert_int_equal(pv_store_request_get(f->w, "req_a", r), 0);
    assert_string_equal(r->state, "verified");
    assert_int_equal(r->verified_at, 150);
    /* At 1500 the first is overdue, the second not yet; the closed one never. */
    list_ids(f, NULL, 1, 1500, NULL, 50, ids);
    assert_string_equal(ids, "req_a");
    list_ids(f, NULL, 2, 1500, NULL, 50, ids);
    assert_string_equal(ids, "req_b,req_c");
    list_ids(f, NULL, 1, 2500, NULL, 50, ids);
    assert_string_equal(ids, "req_a,req_b");
    list_ids(f, "open", 0, 0, NULL, 50, ids);
    assert_string_equal(ids, "req_a,req_b");
    list_ids(f, "completed", 0, 0, NULL, 50, ids);
    assert_string_equal(ids, "req_c");
    /* Pages in order of receipt. */
    list_ids(f, NULL, 0, 0, NULL, 2, ids);
    assert_string_equal(ids, "req_a,req_b");
    list_ids(f, NULL, 0, 0, "req_b", 2, ids);
    assert_string_equal(ids, "req_c");
    free(r);
}

/* Amendment history follows its record: it goes with the record, and with the field's
 * category when the record no longer holds it. */
static void
test_history_follows_record(void **state)
{
    struct fixture *f = *state;
    struct pv_history h;
    struct pv_record r;
    int64_t n = 0;

    put_record(f, "rec_h", 10, "body");
    memset(&h, 0, sizeof h);
    pv_strlcpy(h.subject_id, "sub_1", sizeof h.subject_id);
    pv_strlcpy(h.record_id, "rec_h", sizeof h.record_id);
    pv_strlcpy(h.collection, "visits", sizeof h.collection);
    pv_strlcpy(h.field, "notes", sizeof h.field);
    pv_strlcpy(h.category, "user.health", sizeof h.category);
    h.sealed = (const unsigned char *)"old";
    h.sealed_len = 3;
    assert_int_equal(pv_store_history_put(f->w, &h), 0);
    pv_strlcpy(h.field, "card", sizeof h.field);
    pv_strlcpy(h.category, "user.financial", sizeof h.category);
    assert_int_equal(pv_store_history_put(f->w, &h), 0);
    /* The record keeps user.health only: the card's history goes. */
    memset(&r, 0, sizeof r);
    pv_strlcpy(r.id, "rec_h", sizeof r.id);
    pv_strlcpy(r.subject_id, "sub_1", sizeof r.subject_id);
    pv_buf_init(&r.body, 64);
    pv_buf_puts(&r.body, "trimmed");
    assert_int_equal(pv_store_row_set_body(f->w, 0, &r, "user.health"), 0);
    pv_buf_fini(&r.body);
    assert_int_equal(pv_store_history_list(f->w, "sub_1", "rec_h", count_cb, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pv_store_record_delete(f->w, "sub_1", "visits", "rec_h"), 0);
    n = 0;
    assert_int_equal(pv_store_history_list(f->w, "sub_1", NULL, count_cb, &n), 0);
    assert_int_equal(n, 0);
    /* Delete-all of a collection says how many went. */
    put_record(f, "rec_x", 11, "x");
    put_record(f, "rec_y", 12, "y");
    assert_int_equal(pv_store_records_delete_all(f->w, "sub_1", "visits", &n), 0);
    assert_int_equal(n, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_follows_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totp_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uniqueness_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_is_per_thread_and_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_sees_logout_disable_unassign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_survives_rollback_and_unrelated_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_sees_another_process, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
