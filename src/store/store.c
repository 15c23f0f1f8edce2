/* store.c: the generic entry points, dispatching through the backend's table. */
#include <string.h>

#include "store/store_int.h"

static int slot_next = 1;

int
pv_sql_slot(struct pv_sql *q)
{
    int s = __atomic_load_n(&q->slot, __ATOMIC_ACQUIRE), want;

    if (s != 0)
        return s;
    want = __atomic_fetch_add(&slot_next, 1, __ATOMIC_ACQ_REL);
    if (want >= PV_SQL_SLOTS)
        return -1;
    if (!__atomic_compare_exchange_n(&q->slot, &s, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return s; /* another thread assigned it first; want stays unused */
    return want;
}

int
pv_store_open(const char *dir, struct pv_store **out)
{
    return pv_store_sqlite.open(dir, out);
}

void
pv_store_close(struct pv_store *s)
{
    if (s)
        s->ops->close(s);
}

int
pv_store_conn_open(struct pv_store *s, int writer, struct pv_conn **out)
{
    return s->ops->conn_open(s, writer, out);
}

void
pv_store_conn_close(struct pv_conn *c)
{
    if (c)
        c->ops->conn_close(c);
}

int
pv_store_begin(struct pv_conn *c)
{
    return c->ops->begin(c);
}

int
pv_store_commit(struct pv_conn *c)
{
    return c->ops->commit(c);
}

int
pv_store_rollback(struct pv_conn *c)
{
    return c->ops->rollback(c);
}

int
pv_store_exec(struct pv_conn *c, const char *sql)
{
    return c->ops->exec(c, sql);
}

int
pv_store_checkpoint(struct pv_conn *c)
{
    return c->ops->checkpoint(c);
}

int
pv_stmt_prepare(struct pv_conn *c, struct pv_sql *q, struct pv_stmt **out)
{
    return c->ops->prepare(c, q, out);
}

int
pv_stmt_int(struct pv_stmt *st, int i, int64_t v)
{
    return st->ops->bind_int(st, i, v);
}

int
pv_stmt_text(struct pv_stmt *st, int i, const char *v)
{
    return st->ops->bind_text(st, i, v);
}

int
pv_stmt_blob(struct pv_stmt *st, int i, const void *p, size_t n)
{
    return st->ops->bind_blob(st, i, p, n);
}

int
pv_stmt_step(struct pv_stmt *st)
{
    return st->ops->step(st);
}

int64_t
pv_col_int(struct pv_stmt *st, int i)
{
    return st->ops->col_int(st, i);
}

const char *
pv_col_text(struct pv_stmt *st, int i)
{
    return st->ops->col_text(st, i);
}

const void *
pv_col_blob(struct pv_stmt *st, int i, size_t *n)
{
    return st->ops->col_blob(st, i, n);
}

int
pv_col_is_null(struct pv_stmt *st, int i)
{
    return st->ops->col_is_null(st, i);
}

void
pv_stmt_reset(struct pv_stmt *st)
{
    st->ops->reset(st);
}

int64_t
pv_store_changes(struct pv_conn *c)
{
    return c->ops->changes(c);
}

int
pv_col_copy(struct pv_stmt *st, int i, char *out, size_t cap)
{
    return pv_strlcpy(out, pv_col_text(st, i), cap) == 0 ? 0 : PV_ESTORE;
}

int
pv_stmt_run(struct pv_stmt *st)
{
    int rc = pv_stmt_step(st);

    pv_stmt_reset(st);
    return rc == PV_ROW ? 0 : rc;
}

int
pv_store_snapshot(struct pv_store *s, int keys, const char *dest,
                  void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    return s->ops->snapshot(s, keys, dest, progress, arg);
}

int
pv_store_copy_keys(const char *src_dir, const char *dest)
{
    /* The default backend, as pv_store_open() uses: there is no store open yet. */
    return pv_store_sqlite.copy_keys(src_dir, dest);
}
