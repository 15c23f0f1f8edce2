/*
 * backup.c: online backups and restores, designed around crypto-shredding.
 *
 * A backup is data without keys: a consistent snapshot of phivault.db taken
 * while the server keeps writing, the policy, the audit public key (to
 * verify the log) and a manifest with the snapshot's hash. The data keys
 * (keys.db) and the master and audit keys (master.key, audit.key) are key
 * material, kept apart: when a subject's key is destroyed, every backup
 * holding their data can no longer open it, unless an old copy of the key
 * material was kept too. So key material is copied to one place only, each
 * copy replacing the last (--keys), never accumulated.
 *
 * A restore joins a backup with key material (a key copy, or a data
 * directory) into a new data directory: the manifest hash and the audit log
 * are verified first; subjects whose data key no longer exists are erased
 * (what was destroyed after the backup stays destroyed), and keys of
 * subjects the backup does not know are dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/vault_int.h"

#define DATA_FILE "phivault.db"
#define KEYS_FILE "keys.db"
#define MANIFEST_MAX (64 * 1024)

static int
join(char *out, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : PV_EINVAL;
}

static int
fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return PV_EIO;
    if (fsync(fd) != 0)
        rc = PV_EIO;
    close(fd);
    return rc;
}

/* Copy a file into a new file (0600) and sync it. */
static int
copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n, w;
    int in, out, rc = 0;

    if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        close(in);
        return errno == EEXIST ? PV_EEXIST : PV_EIO;
    }
    while (rc == 0 && (n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno != EINTR)
                rc = PV_EIO;
            continue;
        }
        for (ssize_t off = 0; rc == 0 && off < n; off += w)
            if ((w = write(out, buf + off, (size_t)(n - off))) <= 0)
                rc = PV_EIO;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = PV_EIO;
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = PV_EIO;
    return rc;
}

static int
copy_into(const char *from_dir, const char *name, const char *to_dir)
{
    char a[1100], b[1100];
    int rc;

    if ((rc = join(a, sizeof a, from_dir, name)) != 0 ||
        (rc = join(b, sizeof b, to_dir, name)) != 0)
        return rc;
    return copy_file(a, b);
}

/* Remove a directory of plain files (one this code created). */
static void
remove_flat(const char *dir)
{
    struct dirent *e;
    char path[1400];
    DIR *d;

    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            join(path, sizeof path, dir, e->d_name) == 0)
            unlink(path);
    closedir(d);
    rmdir(dir);
}

/* BLAKE2b-256 of a file, as hex; *size its length. */
static int
hash_file(const char *path, char hex[2 * PV_HASH_BYTES + 1], int64_t *size)
{
    unsigned char buf[65536], h[PV_HASH_BYTES];
    struct pv_hasher st;
    ssize_t n;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
    pv_hash_init(&st);
    *size = 0;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return PV_EIO;
        }
        pv_hash_update(&st, buf, (size_t)n);
        *size += n;
    }
    close(fd);
    pv_hash_final(&st, h);
    pv_hex(h, sizeof h, hex);
    return 0;
}

/* ---- backup ------------------------------------------------------------------------------ */

static int
write_manifest(struct pv_vault *v, const char *dest, int64_t *bytes)
{
    char path[1100], hex[2 * PV_HASH_BYTES + 1], t[21];
    json_t *m;
    char *text;
    int rc;

    if ((rc = join(path, sizeof path, dest, DATA_FILE)) != 0 ||
        (rc = hash_file(path, hex, bytes)) != 0)
        return rc;
    pv_time_format(pv_now(), t);
    m = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s}", "format", 1, "created", t,
                  "policy_version", v->policy->version, "data", DATA_FILE, "bytes",
                  (json_int_t)*bytes, "blake2b", hex, "keys",
                  "not included: restore with --keys naming the key material");
    text = m ? json_dumps(m, JSON_INDENT(2)) : NULL;
    json_decref(m);
    if (text == NULL)
        return PV_ENOMEM;
    rc = join(path, sizeof path, dest, PV_FILE_BACKUP_MANIFEST);
    if (rc == 0)
        rc = pv_secret_file_write(path, text, strlen(text));
    free(text);
    return rc;
}

/* The key material into keys_dest, replacing what was there: one copy only. */
static int
backup_keys(struct pv_vault *v, const char *keys_dest)
{
    char fresh[1100], old[1100], path[1100];
    struct stat st;
    int rc;

    if ((size_t)snprintf(fresh, sizeof fresh, "%s.new", keys_dest) >= sizeof fresh ||
        (size_t)snprintf(old, sizeof old, "%s.old", keys_dest) >= sizeof old)
        return PV_EINVAL;
    remove_flat(fresh); /* a leftover of an interrupted backup */
    if (mkdir(fresh, 0700) != 0)
        return PV_EIO;
    /* The data keys after the data: every subject of the snapshot still has theirs. */
    rc = join(path, sizeof path, fresh, KEYS_FILE);
    if (rc == 0)
        rc = pv_store_snapshot(v->store, 1, path, NULL, NULL);
    if (rc == 0)
        rc = fsync_path(path, 0);
    if (rc == 0)
        rc = copy_into(v->dir, PV_FILE_KEYS, fresh);
    if (rc == 0)
        rc = copy_into(v->dir, PV_FILE_AUDIT_KEY, fresh);
    if (rc == 0)
        rc = copy_into(v->dir, PV_FILE_AUDIT_PUB, fresh);
    if (rc == 0)
        rc = fsync_path(fresh, 1);
    if (rc == 0 && stat(keys_dest, &st) == 0) {
        remove_flat(old);
        if (rename(keys_dest, old) != 0)
            rc = PV_EIO;
    }
    if (rc == 0 && rename(fresh, keys_dest) != 0)
        rc = PV_EIO;
    if (rc != 0) {
        remove_flat(fresh);
        return rc;
    }
    remove_flat(old);
    return 0;
}

int
pv_vault_backup(struct pv_vault *v, const char *dest, const char *keys_dest,
                struct pv_backup_report *rep, struct pv_buf *errors,
                void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct pv_audit_row row;
    struct pv_conn *c;
    char path[1100];
    int rc, fd = -1, made = 0;

    memset(rep, 0, sizeof *rep);
    if (strlen(dest) > 900 || (keys_dest && strlen(keys_dest) > 900))
        return PV_EINVAL;
    if ((rc = pv_vault_lock(v, &fd)) != 0) {
        if (errors && rc == PV_EBUSY)
            pv_buf_printf(errors, "%s: a key rotation or another backup is running\n", v->dir);
        return rc;
    }
    if (mkdir(dest, 0700) != 0) {
        rc = errno == EEXIST ? PV_EEXIST : PV_EIO;
        if (errors)
            pv_buf_printf(errors, "%s: %s\n", dest,
                          rc == PV_EEXIST ? "already exists; a backup goes to a new directory"
                                          : strerror(errno));
    } else {
        made = 1;
    }
    /* Recorded first, so the backup carries its own entry. */
    if (rc == 0) {
        memset(&row, 0, sizeof row);
        row.actor = "system";
        row.action = "backup.create";
        row.decision = "permit";
        row.reason = keys_dest ? "with-keys" : "permit";
        rc = pv_audit_commit(v->audit, &row, 1, NULL, NULL);
    }
    if (rc == 0 && (rc = join(path, sizeof path, dest, DATA_FILE)) == 0 &&
        (rc = pv_store_snapshot(v->store, 0, path, progress, arg)) == 0)
        rc = fsync_path(path, 0);
    if (rc == 0)
        rc = copy_into(v->dir, PV_FILE_POLICY, dest);
    if (rc == 0)
        rc = copy_into(v->dir, PV_FILE_AUDIT_PUB, dest);
    if (rc == 0)
        rc = write_manifest(v, dest, &rep->bytes);
    if (rc == 0)
        rc = fsync_path(dest, 1);
    if (rc == 0 && keys_dest && (rc = backup_keys(v, keys_dest)) != 0 && errors)
        pv_buf_printf(errors, "%s: cannot write the key material (%s)\n", keys_dest,
                      pv_strerror(rc));
    if (rc == 0 && pv_store_reader(v->store, &c) == 0)
        rep->subjects = pv_store_subject_count(c);
    if (rc != 0 && made)
        remove_flat(dest);
    pv_vault_unlock(fd);
    return rc;
}

/* ---- restore -------------------------------------------------------------------------------- */

static int
check_manifest(const char *backup, struct pv_buf *errors)
{
    char path[1100], hex[2 * PV_HASH_BYTES + 1];
    const char *want;
    json_error_t jerr;
    json_t *m;
    int64_t size;
    int rc;

    if ((rc = join(path, sizeof path, backup, PV_FILE_BACKUP_MANIFEST)) != 0)
        return rc;
    if ((m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        if (errors)
            pv_buf_printf(errors, "%s: not a phivault backup (no readable %s)\n", backup,
                          PV_FILE_BACKUP_MANIFEST);
        return PV_EINVAL;
    }
    want = json_string_value(json_object_get(m, "blake2b"));
    if (json_integer_value(json_object_get(m, "format")) != 1 || want == NULL) {
        json_decref(m);
        if (errors)
            pv_buf_printf(errors, "%s: the manifest is not of format 1\n", backup);
        return PV_EINVAL;
    }
    rc = join(path, sizeof path, backup, DATA_FILE);
    if (rc == 0)
        rc = hash_file(path, hex, &size);
    if (rc == 0 && strcmp(hex, want) != 0)
        rc = PV_ETAMPER;
    json_decref(m);
    if (rc != 0 && errors)
        pv_buf_printf(errors, "%s: %s\n", backup,
                      rc == PV_ETAMPER ? "the data snapshot does not match its manifest hash"
                                       : "cannot read the data snapshot");
    return rc;
}

/* The audit key of the key material must be the one that signed the backup's log. */
static int
check_audit_key(const char *backup, const char *dir, struct pv_buf *errors,
                unsigned char pk[PV_SIGN_PK_BYTES])
{
    unsigned char mine[PV_SIGN_PK_BYTES];
    struct pv_signer *s = NULL;
    char path[1100];
    int rc;

    rc = join(path, sizeof path, backup, PV_FILE_AUDIT_PUB);
    if (rc == 0)
        rc = pv_sig_load_public(path, pk);
    if (rc == 0 && (rc = join(path, sizeof path, dir, PV_FILE_AUDIT_KEY)) == 0 &&
        (rc = pv_signer_load(path, &s)) == 0) {
        pv_signer_public(s, mine);
        pv_signer_free(s);
        if (memcmp(mine, pk, sizeof mine) != 0)
            rc = PV_ECRYPTO;
    }
    if (rc != 0 && errors)
        pv_buf_printf(errors, "%s\n",
                      rc == PV_ECRYPTO
                          ? "the audit key of the key material did not sign this backup's log"
                          : "cannot read the audit keys");
    return rc;
}

static int
verify_log(const char *dir, const unsigned char pk[PV_SIGN_PK_BYTES], struct pv_backup_report *rep,
           struct pv_buf *errors, void (*progress)(int64_t done, int64_t total, void *arg),
           void *arg)
{
    struct pv_audit_report ar;
    struct pv_store *s = NULL;
    struct pv_conn *c = NULL;
    int rc;

    rc = pv_store_open(dir, &s);
    if (rc == 0)
        rc = pv_store_conn_open(s, 0, &c);
    if (rc == 0)
        rc = pv_audit_verify(c, pk, &ar, progress, arg);
    if (rc == 0)
        rep->entries = ar.entries;
    else if (rc == PV_ETAMPER && errors)
        pv_buf_printf(errors, "the backup's audit log fails verification: %s\n", ar.problem);
    pv_store_conn_close(c);
    pv_store_close(s);
    return rc;
}

struct reconcile {
    struct pv_vault *v;
    struct pv_conn *c;
    struct pv_backup_report *rep;
    char (*ids)[PV_ID_MAX];
    size_t n, cap;
};

static int
add_id(struct reconcile *rc, const char *id)
{
    void *grown;

    if (rc->n == rc->cap) {
        rc->cap = rc->cap ? 2 * rc->cap : 64;
        if ((grown = realloc(rc->ids, rc->cap * sizeof *rc->ids)) == NULL)
            return PV_ENOMEM;
        rc->ids = grown;
    }
    return pv_strlcpy(rc->ids[rc->n++], id, PV_ID_MAX) == 0 ? 0 : PV_ESTORE;
}

static int
keyless_cb(const char *id, const char *status, void *arg)
{
    struct reconcile *r = arg;
    struct pv_subject_key k;
    int rc;

    r->rep->subjects++;
    if (strcmp(status, "erased") == 0)
        return 0;
    rc = pv_store_key_get(r->c, id, &k);
    if (rc == PV_ENOTFOUND)
        return add_id(r, id);
    return rc;
}

static int
orphan_cb(const char *owner, const struct pv_subject_key *k, void *arg)
{
    struct reconcile *r = arg;
    struct pv_subject s;
    int rc;

    r->rep->keys_kept++;
    if (!pv_id_valid(owner, "sub"))
        return 0; /* the system key */
    rc = pv_store_subject_get(r->c, owner, &s);
    if (rc == PV_ENOTFOUND) {
        r->rep->keys_kept--;
        return add_id(r, owner);
    }
    return rc;
}

static int
apply_erase_keyless(struct pv_conn *w, void *arg)
{
    return pv_store_subject_erase(w, arg, pv_now_ms());
}

static int
apply_drop_key(struct pv_conn *w, void *arg)
{
    return pv_store_key_delete(w, arg);
}

static void
restore_row(struct pv_audit_row *r, const char *action, const char *subject, const char *reason)
{
    memset(r, 0, sizeof *r);
    r->actor = "system";
    r->action = action;
    r->subject = subject;
    r->decision = "permit";
    r->reason = reason;
}

/* Erase what lost its key since the backup; drop keys of subjects the backup never had. */
static int
reconcile(struct pv_vault *v, struct pv_backup_report *rep)
{
    struct reconcile r;
    struct pv_audit_row row;
    char after[PV_ID_MAX] = "";
    int rc;

    memset(&r, 0, sizeof r);
    r.v = v;
    r.rep = rep;
    if ((rc = pv_store_reader(v->store, &r.c)) != 0)
        return rc;
    rc = pv_store_subject_scan(r.c, after, INT32_MAX, keyless_cb, &r);
    for (size_t i = 0; rc == 0 && i < r.n; i++) {
        restore_row(&row, "restore.erase", r.ids[i], "key-destroyed");
        rc = pv_audit_commit(v->audit, &row, 1, apply_erase_keyless, r.ids[i]);
        rep->erased += rc == 0;
    }
    r.n = 0;
    if (rc == 0)
        rc = pv_store_key_scan(r.c, orphan_cb, &r);
    for (size_t i = 0; rc == 0 && i < r.n; i++) {
        restore_row(&row, "restore.drop_key", "", "no-such-subject");
        rc = pv_audit_commit(v->audit, &row, 1, apply_drop_key, r.ids[i]);
    }
    free(r.ids);
    return rc;
}

int
pv_vault_restore(const char *backup, const char *keys_dir, const char *dir,
                 struct pv_backup_report *rep, struct pv_buf *errors,
                 void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct pv_vault_config cfg = {dir, NULL, 0};
    unsigned char pk[PV_SIGN_PK_BYTES];
    struct pv_audit_row row;
    struct pv_vault *v = NULL;
    char path[1100];
    int rc;

    memset(rep, 0, sizeof *rep);
    if (strlen(dir) > 900 || strlen(backup) > 900 || strlen(keys_dir) > 900)
        return PV_EINVAL;
    if ((rc = check_manifest(backup, errors)) != 0)
        return rc;
    if (mkdir(dir, 0700) != 0) {
        if (errors)
            pv_buf_printf(errors, "%s: %s\n", dir,
                          errno == EEXIST ? "already exists; restore makes a new data directory"
                                          : strerror(errno));
        return errno == EEXIST ? PV_EEXIST : PV_EIO;
    }
    rc = copy_into(backup, DATA_FILE, dir);
    if (rc == 0)
        rc = copy_into(backup, PV_FILE_POLICY, dir);
    if (rc == 0)
        rc = copy_into(keys_dir, PV_FILE_KEYS, dir);
    if (rc == 0)
        rc = copy_into(keys_dir, PV_FILE_AUDIT_KEY, dir);
    if (rc != 0 && errors)
        pv_buf_printf(errors, "%s: cannot copy the backup and the key material (%s)\n", dir,
                      pv_strerror(rc));
    if (rc == 0)
        rc = check_audit_key(backup, dir, errors, pk);
    if (rc == 0)
        rc = copy_into(backup, PV_FILE_AUDIT_PUB, dir);
    if (rc == 0 && (rc = join(path, sizeof path, dir, KEYS_FILE)) == 0 &&
        (rc = pv_store_copy_keys(keys_dir, path)) != 0 && errors)
        pv_buf_printf(errors, "%s: cannot copy the data keys (%s)\n", keys_dir, pv_strerror(rc));
    if (rc == 0)
        rc = verify_log(dir, pk, rep, errors, progress, arg);
    if (rc == 0)
        rc = pv_vault_open(&cfg, &v, errors);
    if (rc == 0)
        rc = reconcile(v, rep);
    if (rc == 0) {
        restore_row(&row, "restore", "", "permit");
        rc = pv_audit_commit(v->audit, &row, 1, NULL, NULL);
    }
    if (rc == 0)
        pv_vault_scrub(v);
    pv_vault_close(v);
    if (rc != 0) {
        if (errors)
            pv_buf_printf(errors, "%s: restore failed (%s); nothing was kept\n", dir,
                          pv_strerror(rc));
        remove_flat(dir);
    }
    return rc;
}
