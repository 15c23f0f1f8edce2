/*
 * keys.c: data keys under a rotating master key, and scrubbing the store.
 *
 * Rotation runs in its own process (`phivault keys rotate`) while the server
 * keeps serving, in four steps, each safe to interrupt and to repeat:
 *
 *  1. a new master version is added to the key file and made active there;
 *  2. the version is recorded in the database (meta "keyring.active"), in an
 *     audited transaction: from then on every new data key, in whichever
 *     process, is wrapped under it, because pv_vault_key_store() reads the
 *     record inside its own write transaction and reloads the key file when
 *     it lags behind;
 *  3. every data key still wrapped under another version is rewrapped, in
 *     batches, each audited;
 *  4. once a transaction finds no key left under an old version, the old
 *     versions are removed from the key file.
 *
 * A server meeting a key wrapped under a version it does not know reloads the
 * key file (pv_vault_subject_key), and its maintenance thread reloads it when
 * the file changes, so retired versions leave its memory too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "vault/vault_int.h"

#define META_ACTIVE "keyring.active"
#define REWRAP_BATCH 256

int
pv_vault_key_store(struct pv_vault *v, struct pv_conn *w, const char *owner,
                   const struct pv_dkey *dk, int64_t now)
{
    struct pv_subject_key k;
    char text[24];
    int64_t want;
    int rc;

    rc = pv_store_meta_get(w, META_ACTIVE, text, sizeof text);
    if (rc == 0 && pv_parse_i64(text, 1, UINT32_MAX, &want) == 0 &&
        (uint32_t)want > pv_keyring_active(v->keys)) {
        /* Another process rotated the master key: its file has the version. */
        if ((rc = pv_keyring_reload(v->keys)) != 0)
            return rc;
        if (pv_keyring_active(v->keys) < (uint32_t)want)
            return PV_ECRYPTO; /* the key file is older than the database says */
    } else if (rc != 0 && rc != PV_ENOTFOUND) {
        return rc;
    }
    memset(&k, 0, sizeof k);
    k.version = dk->version;
    if ((rc = pv_keyring_wrap(v->keys, owner, dk, k.wrapped, &k.master_version)) != 0)
        return rc;
    return pv_store_key_put(w, owner, &k, now);
}

int
pv_vault_scrub(struct pv_vault *v)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct pv_conn *c = NULL;
    char code[16];
    int rc;

    /* A connection of its own: the committer's is busy with transactions. */
    pthread_mutex_lock(&mu);
    rc = pv_store_conn_open(v->store, 1, &c);
    if (rc == 0)
        rc = pv_store_checkpoint(c);
    pv_store_conn_close(c);
    pthread_mutex_unlock(&mu);
    if (rc != 0) {
        (void)snprintf(code, sizeof code, "%d", rc);
        pv_log(PV_LOG_WARN, "store.scrub_deferred", "error", pv_strerror(rc), "code", code,
               (char *)NULL);
    }
    return rc;
}

int
pv_vault_lock(struct pv_vault *v, int *fd)
{
    char path[1100];
    int f;

    if ((size_t)snprintf(path, sizeof path, "%s/maintenance.lock", v->dir) >= sizeof path)
        return PV_EINVAL;
    if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return PV_EIO;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        close(f);
        return errno == EWOULDBLOCK ? PV_EBUSY : PV_EIO;
    }
    *fd = f;
    return 0;
}

void
pv_vault_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the lock */
}

static int
key_path(struct pv_vault *v, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s/%s", v->dir, PV_FILE_KEYS) < cap ? 0 : PV_EINVAL;
}

/* An audit entry of the system itself about the key material. */
static void
system_row(struct pv_audit_row *r, const char *action, const char *subject, const char *record)
{
    memset(r, 0, sizeof *r);
    r->actor = "system";
    r->action = action;
    r->subject = subject && pv_id_valid(subject, "sub") ? subject : "";
    r->record = record;
    r->decision = "permit";
    r->reason = "permit";
}

struct set_active {
    char text[24];
};

static int
apply_set_active(struct pv_conn *w, void *arg)
{
    return pv_store_meta_put(w, META_ACTIVE, ((struct set_active *)arg)->text);
}

/* A batch of keys to rewrap, planned on the reader, redone on the writer. */
struct rewrap {
    struct pv_vault *v;
    uint32_t version;
    int n;
    struct {
        char owner[PV_ID_MAX];
        struct pv_subject_key k;
    } keys[REWRAP_BATCH];
    struct pv_audit_row rows[REWRAP_BATCH];
    int64_t done;
};

static int
plan_rewrap(const char *owner, const struct pv_subject_key *k, void *arg)
{
    struct rewrap *r = arg;

    if (pv_strlcpy(r->keys[r->n].owner, owner, PV_ID_MAX) != 0)
        return PV_ESTORE;
    r->keys[r->n].k = *k;
    r->n++;
    return 0;
}

static int
apply_rewrap(struct pv_conn *w, void *arg)
{
    struct rewrap *r = arg;
    struct pv_dkey dk;
    int rc = 0;

    r->done = 0;
    for (int i = 0; rc == 0 && i < r->n; i++) {
        struct pv_subject_key *k = &r->keys[i].k;
        rc = pv_keyring_unwrap(r->v->keys, r->keys[i].owner, k->master_version, k->version,
                               k->wrapped, sizeof k->wrapped, &dk);
        if (rc == 0)
            rc = pv_keyring_wrap(r->v->keys, r->keys[i].owner, &dk, k->wrapped, &k->master_version);
        pv_dkey_wipe(&dk);
        if (rc == 0 && k->master_version != r->version)
            rc = PV_ECRYPTO;
        if (rc == 0) {
            rc = pv_store_key_rewrap(w, r->keys[i].owner, k);
            if (rc == PV_ENOTFOUND) {
                rc = 0; /* destroyed meanwhile by a sweep: nothing to rewrap */
                r->rows[i].reason = "key-destroyed";
                r->rows[i].decision = "deny";
                continue;
            }
        }
        r->done += rc == 0;
    }
    if (rc != 0)
        for (int i = 0; i < r->n; i++) {
            /* Rolled back: the entries say so. */
            r->rows[i].decision = "deny";
            r->rows[i].reason = "rewrap-failed";
        }
    return rc;
}

struct retire_check {
    uint32_t version;
    int64_t left;
};

static int
count_left(const char *owner, const struct pv_subject_key *k, void *arg)
{
    ((struct retire_check *)arg)->left++;
    return 0;
}

/* Inside the transaction that records retirement: no key may still need an old version. */
static int
apply_retire(struct pv_conn *w, void *arg)
{
    struct retire_check *rc = arg;
    int err;

    rc->left = 0;
    if ((err = pv_store_key_scan_other(w, rc->version, 1, count_left, rc)) != 0)
        return err;
    return rc->left ? PV_ECONFLICT : 0;
}

static int
count_key(const char *owner, const struct pv_subject_key *k, void *arg)
{
    (*(int64_t *)arg)++;
    return 0;
}

int
pv_vault_keys_rotate(struct pv_vault *v, struct pv_keys_report *rep,
                     void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    uint32_t before[16], version;
    struct pv_audit_row row;
    struct set_active act;
    struct retire_check chk;
    struct rewrap *r = NULL;
    struct pv_conn *c;
    char path[1100], label[32];
    int64_t total = 0;
    int rc, nbefore, fd = -1, attempts = 0;

    memset(rep, 0, sizeof *rep);
    if ((rc = key_path(v, path, sizeof path)) != 0 || (rc = pv_vault_lock(v, &fd)) != 0)
        return rc;
    nbefore = pv_keyring_versions(v->keys, before, (int)PV_ARRAY_LEN(before));

    /* 1: the new version, in the key file. */
    rc = pv_keyring_file_add(path, &version);
    if (rc == 0)
        rc = pv_keyring_reload(v->keys);
    /* 2: recorded in the database, so every new data key is wrapped under it. */
    if (rc == 0) {
        (void)snprintf(act.text, sizeof act.text, "%u", (unsigned)version);
        (void)snprintf(label, sizeof label, "master-%u", (unsigned)version);
        system_row(&row, "keys.rotate", NULL, label);
        rc = pv_audit_commit(v->audit, &row, 1, apply_set_active, &act);
    }
    if (rc == 0 && (rc = pv_store_reader(v->store, &c)) == 0)
        rc = pv_store_key_scan(c, count_key, &total);
    if (rc == 0 && (r = calloc(1, sizeof *r)) == NULL)
        rc = PV_ENOMEM;
    /* 3: rewrap, batch by batch, until no key is left under another version. */
    while (rc == 0) {
        r->v = v;
        r->version = version;
        r->n = 0;
        if ((rc = pv_store_key_scan_other(c, version, REWRAP_BATCH, plan_rewrap, r)) != 0)
            break;
        if (r->n == 0) {
            /* 4: retire the old versions once a transaction sees none in use. */
            chk.version = version;
            system_row(&row, "keys.retire", NULL, label);
            rc = pv_audit_commit(v->audit, &row, 1, apply_retire, &chk);
            if (rc == PV_ECONFLICT && ++attempts < 100) {
                rc = 0; /* a key under an old version slipped in: another pass */
                continue;
            }
            break;
        }
        for (int i = 0; i < r->n; i++)
            system_row(&r->rows[i], "key.rewrap", r->keys[i].owner, label);
        rc = pv_audit_commit(v->audit, r->rows, r->n, apply_rewrap, r);
        if (rc == 0) {
            rep->rewrapped += r->done;
            if (progress)
                progress(rep->rewrapped, total, arg);
        }
    }
    free(r);
    if (rc == 0)
        rc = pv_keyring_file_retire(path, version);
    if (rc == 0)
        rc = pv_keyring_reload(v->keys);
    if (rc == 0) {
        for (int i = 0; i < nbefore && rep->nretired < (int)PV_ARRAY_LEN(rep->retired); i++)
            if (before[i] != version)
                rep->retired[rep->nretired++] = before[i];
        rep->version = version;
        rep->keys = total;
        /* The old wrappings were overwritten; make sure no copy stays in the log file. */
        pv_vault_scrub(v);
    }
    pv_vault_unlock(fd);
    return rc;
}

struct check {
    struct pv_vault *v;
    struct pv_keys_report *rep;
    int64_t total;
    void (*progress)(int64_t, int64_t, void *);
    void *arg;
};

static int
check_key(const char *owner, const struct pv_subject_key *k, void *arg)
{
    struct check *ck = arg;
    struct pv_dkey dk;

    if (pv_keyring_unwrap(ck->v->keys, owner, k->master_version, k->version, k->wrapped,
                          sizeof k->wrapped, &dk) != 0)
        ck->rep->unreadable++;
    pv_dkey_wipe(&dk);
    ck->rep->keys++;
    if (ck->progress && (ck->rep->keys % 256 == 0 || ck->rep->keys == ck->total))
        ck->progress(ck->rep->keys, ck->total, ck->arg);
    return 0;
}

int
pv_vault_keys_check(struct pv_vault *v, struct pv_keys_report *rep,
                    void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct check ck = {v, rep, 0, progress, arg};
    struct pv_conn *c;
    int rc;

    memset(rep, 0, sizeof *rep);
    rep->version = pv_keyring_active(v->keys);
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_store_key_scan(c, count_key, &ck.total)) != 0)
        return rc;
    return pv_store_key_scan(c, check_key, &ck);
}
