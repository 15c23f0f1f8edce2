/*
 * vault.c: creating and opening a data directory; keys and sealed fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/vault_int.h"

#define DEFAULT_SESSION_TTL_S (INT64_C(8) * 3600)

static int
path_join(char *out, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : PV_EINVAL;
}

json_t *
pv_json_time(int64_t ms)
{
    char t[21];

    pv_time_format(ms / 1000, t);
    return json_string(t);
}

int
pv_vault_subject_key(struct pv_vault *v, struct pv_conn *c, const char *subject, struct pv_dkey *dk)
{
    struct pv_subject_key k;
    int rc = pv_store_key_get(c, subject, &k);

    if (rc != 0)
        return rc;
    if (!pv_keyring_has(v->keys, k.master_version)) {
        /*
         * A key rotation in another process: learn its new master version from
         * the key file; if ours was retired meanwhile, the key row read before
         * was rewrapped since, so read it again.
         */
        pv_keyring_reload(v->keys);
        if (!pv_keyring_has(v->keys, k.master_version) &&
            (rc = pv_store_key_get(c, subject, &k)) != 0)
            return rc;
    }
    return pv_keyring_unwrap(v->keys, subject, k.master_version, k.version, k.wrapped,
                             sizeof k.wrapped, dk);
}

int
pv_vault_seal_field(const struct pv_dkey *dk, const char *subject, const char *record,
                    const char *field, const json_t *value, struct pv_buf *out)
{
    struct pv_seal_ad ad = {subject, record, field};
    unsigned char *sealed;
    size_t len;
    char *text;
    int rc;

    text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text == NULL)
        return PV_ENOMEM;
    len = strlen(text) + PV_SEAL_OVERHEAD;
    sealed = malloc(len);
    rc = sealed ? pv_seal(dk, &ad, text, strlen(text), sealed, len, &len) : PV_ENOMEM;
    if (rc == 0)
        rc = pv_body_add(out, field, sealed, len);
    free(sealed);
    free(text);
    return rc;
}

int
pv_body_add(struct pv_buf *body, const char *field, const unsigned char *sealed, size_t len)
{
    size_t n = strlen(field);
    unsigned char hdr[1 + PV_NAME_MAX + 4];

    if (n == 0 || n >= PV_NAME_MAX || len > UINT32_MAX)
        return PV_EINVAL;
    hdr[0] = (unsigned char)n;
    memcpy(hdr + 1, field, n); /* NOLINT(bugprone-not-null-terminated-result): length-prefixed */
    hdr[1 + n] = (unsigned char)(len >> 24);
    hdr[2 + n] = (unsigned char)(len >> 16);
    hdr[3 + n] = (unsigned char)(len >> 8);
    hdr[4 + n] = (unsigned char)len;
    if (body->max - body->len < 5 + n + len)
        return PV_ETOOBIG;
    pv_buf_append(body, hdr, 5 + n);
    return pv_buf_append(body, sealed, len);
}

/* Walk a packed body; cb gets each field. Bodies are checked for bounds. */
static int
body_each(const struct pv_buf *body,
          int (*cb)(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg),
          void *arg)
{
    const unsigned char *p = (const unsigned char *)body->data, *end;
    size_t n, len;
    int rc;

    if (body->len == 0)
        return 0; /* a record without fields: its buffer may never have been allocated */
    end = p + body->len;
    while (p < end) {
        n = p[0];
        if ((size_t)(end - p) < 5 + n)
            return PV_ESTORE;
        len = (size_t)p[1 + n] << 24 | (size_t)p[2 + n] << 16 | (size_t)p[3 + n] << 8 | p[4 + n];
        if ((size_t)(end - p) - 5 - n < len)
            return PV_ESTORE;
        if ((rc = cb((const char *)p + 1, n, p + 5 + n, len, arg)) != 0)
            return rc;
        p += 5 + n + len;
    }
    return 0;
}

int
pv_body_each(const struct pv_buf *body,
             int (*cb)(const char *name, size_t nlen, const unsigned char *s, size_t len,
                       void *arg),
             void *arg)
{
    return body_each(body, cb, arg);
}

struct find {
    const char *field;
    const unsigned char *sealed;
    size_t len;
};

static int
find_cb(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct find *f = arg;

    if (strlen(f->field) == nlen && memcmp(f->field, name, nlen) == 0) {
        f->sealed = s;
        f->len = len;
        return 1;
    }
    return 0;
}

int
pv_body_find(const struct pv_buf *body, const char *field, const unsigned char **sealed,
             size_t *len)
{
    struct find f = {field, NULL, 0};
    int rc = body_each(body, find_cb, &f);

    if (rc < 0)
        return rc;
    if (f.sealed == NULL)
        return PV_ENOTFOUND;
    *sealed = f.sealed;
    *len = f.len;
    return 0;
}

struct open_ctx {
    const struct pv_dkey *dk;
    const char *subject, *record;
    const struct pv_collection *col;
    uint64_t mask;
    json_t *obj, *withheld;
};

static int
open_cb(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct open_ctx *o = arg;
    char field[PV_NAME_MAX];
    struct pv_seal_ad ad;
    unsigned char *pt;
    json_error_t jerr;
    json_t *value;
    size_t ptlen;
    int fi, rc;

    if (nlen >= sizeof field)
        return PV_ESTORE;
    memcpy(field, name, nlen);
    field[nlen] = '\0';
    fi = pv_policy_field(o->col, field);
    if (fi < 0 || !(o->mask & (UINT64_C(1) << fi))) {
        /* Withheld (or no longer declared): named, never opened. */
        if (o->withheld && fi >= 0)
            json_array_append_new(o->withheld, json_string(field));
        return 0;
    }
    if ((pt = malloc(len)) == NULL)
        return PV_ENOMEM;
    ad.subject = o->subject;
    ad.record = o->record;
    ad.field = field;
    rc = pv_unseal(o->dk, &ad, s, len, pt, len, &ptlen);
    if (rc == 0) {
        value = json_loadb((const char *)pt, ptlen, JSON_DECODE_ANY, &jerr);
        rc = value ? json_object_set_new(o->obj, field, value) : PV_ESTORE;
    }
    pv_wipe(pt, len);
    free(pt);
    return rc;
}

int
pv_body_open(struct pv_vault *v, const struct pv_dkey *dk, const char *subject, const char *record,
             int c, const struct pv_buf *body, uint64_t mask, json_t *obj, json_t *withheld)
{
    struct open_ctx o = {dk, subject, record, &v->policy->collections[c], mask, obj, withheld};

    return body_each(body, open_cb, &o);
}

int
pv_index_normalize(const char *category, const char *value, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = value, *e = value + strlen(value);
    int phone = strstr(category, "phone") != NULL;

    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (; s < e; s++) {
        char ch = *s;
        if (phone) {
            /* Digits alone: "+1 (555) 010-2" and "15550102" are one number. */
            if (ch < '0' || ch > '9')
                continue;
        } else if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (n + 1 >= cap)
            return PV_ETOOBIG;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n ? 0 : PV_EINVAL;
}

/* ---- open and close -------------------------------------------------------- */

/* The system data key seals account data; made once per data directory. */
static int
make_system_key(struct pv_conn *w, void *arg)
{
    struct pv_vault *v = arg;
    struct pv_subject_key k;
    struct pv_dkey dk;
    int rc;

    if (pv_store_key_get(w, PV_SYSTEM_OWNER, &k) == 0)
        return 0;
    pv_dkey_new(&dk, 1);
    k.version = 1;
    rc = pv_keyring_wrap(v->keys, PV_SYSTEM_OWNER, &dk, k.wrapped, &k.master_version);
    pv_dkey_wipe(&dk);
    return rc ? rc : pv_store_key_put(w, PV_SYSTEM_OWNER, &k, pv_now_ms());
}

static int
remember_policy(struct pv_conn *w, void *arg)
{
    const struct pv_policy *p = arg;

    return pv_store_policy_put(w, p->version, p->effective, p->source, p->source_len, pv_now_ms());
}

int
pv_vault_open(const struct pv_vault_config *cfg, struct pv_vault **out, struct pv_buf *errors)
{
    struct pv_vault *v = calloc(1, sizeof *v);
    char path[1100];
    struct pv_audit_row row;
    int rc;

    if (v == NULL)
        return PV_ENOMEM;
    if (pv_strlcpy(v->dir, cfg->dir, sizeof v->dir) != 0) {
        free(v);
        return PV_EINVAL;
    }
    v->session_ttl_ms =
        (cfg->session_ttl_s > 0 ? cfg->session_ttl_s : DEFAULT_SESSION_TTL_S) * 1000;
    if ((rc = pv_throttle_new(&v->throttle)) != 0) {
        free(v);
        return rc;
    }
    rc = cfg->policy_path ? pv_strlcpy(path, cfg->policy_path, sizeof path)
                          : path_join(path, sizeof path, v->dir, PV_FILE_POLICY);
    if (rc == 0)
        rc = pv_policy_load(path, &v->policy, errors);
    if (rc == 0)
        v->profile = pv_policy_collection(v->policy, "profile");
    /* The policy's session lifetime, unless the command line gave one. */
    if (rc == 0 && cfg->session_ttl_s <= 0)
        v->session_ttl_ms = v->policy->auth.lifetime_s * 1000;
    if (rc == 0 && (rc = path_join(path, sizeof path, v->dir, PV_FILE_KEYS)) == 0) {
        rc = pv_keyring_load(path, &v->keys);
        if (rc != 0 && errors)
            pv_buf_printf(errors, "%s: cannot load the key file (%s)\n", path, pv_strerror(rc));
    }
    if (rc == 0 && (rc = pv_store_open(v->dir, &v->store)) != 0 && errors)
        pv_buf_printf(errors, "%s: cannot open the store (%s)\n", v->dir, pv_strerror(rc));
    if (rc == 0 && (rc = path_join(path, sizeof path, v->dir, PV_FILE_AUDIT_KEY)) == 0 &&
        (rc = pv_audit_open(v->store, path, &v->audit)) != 0 && errors)
        pv_buf_printf(errors, "%s: cannot open the audit log (%s)\n", v->dir, pv_strerror(rc));
    if (rc == 0) {
        /* The policy in force and the system key, recorded and audited once. */
        memset(&row, 0, sizeof row);
        row.actor = "system";
        row.action = "policy.load";
        row.decision = "permit";
        row.reason = v->policy->version;
        rc = pv_audit_commit(v->audit, &row, 1, remember_policy, v->policy);
        if (rc == 0)
            rc = pv_audit_commit(v->audit, NULL, 0, make_system_key, v);
    }
    if (rc == 0)
        rc = pv_versions_open(v);
    if (rc == 0)
        rc = pv_comms_open(v, errors);
    if (rc != 0) {
        pv_vault_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

void
pv_vault_close(struct pv_vault *v)
{
    if (v == NULL)
        return;
    pv_vault_maintenance_stop(v);
    pv_audit_close(v->audit);
    pv_versions_close(v->versions);
    pv_comms_close(v->comms);
    pv_store_close(v->store);
    pv_keyring_free(v->keys);
    pv_policy_free(v->policy);
    pv_throttle_free(v->throttle);
    free(v);
}

const struct pv_policy *
pv_vault_policy(const struct pv_vault *v)
{
    return v->policy;
}

struct pv_store *
pv_vault_store(struct pv_vault *v)
{
    return v->store;
}

/* ---- init ------------------------------------------------------------------------ */

static int
copy_file(const char *from, const char *to)
{
    char buf[8192];
    size_t n;
    FILE *in = fopen(from, "rb"), *o;
    int rc = 0;

    if (in == NULL)
        return PV_EIO;
    if ((o = fopen(to, "wxb")) == NULL) {
        (void)fclose(in);
        return PV_EIO;
    }
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, o) != n)
            rc = PV_EIO;
    if (ferror(in))
        rc = PV_EIO;
    (void)fclose(in);
    if (fflush(o) != 0 || fsync(fileno(o)) != 0)
        rc = PV_EIO;
    if (fclose(o) != 0)
        rc = PV_EIO;
    return rc;
}

/* Remove what init made; the directory did not exist before. */
static void
remove_dir(const char *dir)
{
    static const char *const files[] = {
        PV_FILE_KEYS,      PV_FILE_AUDIT_KEY, PV_FILE_AUDIT_PUB, PV_FILE_POLICY, "phivault.db",
        "phivault.db-wal", "phivault.db-shm", "keys.db",         "keys.db-wal",  "keys.db-shm"};
    char path[1100];

    for (size_t i = 0; i < PV_ARRAY_LEN(files); i++)
        if (path_join(path, sizeof path, dir, files[i]) == 0)
            unlink(path);
    rmdir(dir);
}

int
pv_vault_init(const char *dir, const char *policy_path, const char *password, struct pv_buf *errors)
{
    struct pv_vault_config cfg = {dir, NULL, 0};
    struct pv_policy *p = NULL;
    struct pv_vault *v = NULL;
    char path[1100], pub[1100];
    int rc;

    /* Check the policy before anything is created. */
    if ((rc = pv_policy_load(policy_path, &p, errors)) != 0)
        return rc;
    pv_policy_free(p);
    if (strlen(dir) > 900)
        return PV_EINVAL;
    if (mkdir(dir, 0700) != 0) {
        if (errors)
            pv_buf_printf(errors, "%s: %s\n", dir,
                          errno == EEXIST ? "already exists; init never touches an existing "
                                            "data directory"
                                          : strerror(errno));
        return errno == EEXIST ? PV_EEXIST : PV_EIO;
    }
    path_join(path, sizeof path, dir, PV_FILE_KEYS);
    rc = pv_keyring_create(path);
    if (rc == 0) {
        path_join(path, sizeof path, dir, PV_FILE_AUDIT_KEY);
        path_join(pub, sizeof pub, dir, PV_FILE_AUDIT_PUB);
        rc = pv_signer_create(path, pub);
    }
    if (rc == 0) {
        path_join(path, sizeof path, dir, PV_FILE_POLICY);
        rc = copy_file(policy_path, path);
        if (rc == 0 && chmod(path, 0600) != 0)
            rc = PV_EIO;
    }
    if (rc == 0)
        rc = pv_vault_open(&cfg, &v, errors);
    if (rc == 0)
        rc = pv_vault_bootstrap_admin(v, password);
    pv_vault_close(v);
    if (rc != 0) {
        if (errors)
            pv_buf_printf(errors, "%s: init failed (%s); nothing was kept\n", dir, pv_strerror(rc));
        remove_dir(dir);
    }
    return rc;
}
