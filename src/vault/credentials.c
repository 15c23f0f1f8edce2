/*
 * credentials.c: service API keys, TOTP second factors, and ending sessions.
 *
 * A service key acts for the service's own backend: an administrator
 * creates it with roles and purposes; the key is shown once and stored only
 * as its hash; every use is audited under the key's id and name; revoking
 * it ends its use at once. Keys act only in roles that reach every subject
 * or none (a key has no assignments and no subject of its own), and only
 * people manage credentials: a key can neither make keys nor enroll factors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define KEY_NAME_MIN 3
#define KEY_NAME_MAX 27 /* "key:" + name fits a session id in audit entries */

static int
bad(struct pv_call *call, const char *field, const char *detail)
{
    pv_strlcpy(call->field, field, sizeof call->field);
    call->detail = detail;
    return PV_EINVAL;
}

/* Whether the caller may manage users and credentials: a person with the users power. */
static int
manages_users(const struct pv_vault *v, const struct pv_actor *act)
{
    return act && !act->key && (v->policy->roles[act->role].powers & PV_POWER_USERS);
}

/* The reason of a management action: refused, permitted, or aimed at nothing. */
static const char *
manage_reason(int permit, int target_ok, const char *missing)
{
    return !permit ? "role-cannot-manage-users" : target_ok ? "permit" : missing;
}

static int
valid_key_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < KEY_NAME_MIN || n > KEY_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/*
 * A JSON list of names checked by lookup (an index, or -1 if unknown) and
 * joined with commas into out; PV_EINVAL if empty, unknown, repeated or too
 * many. ok(i) says whether index i may be used.
 */
static int
name_list(struct pv_vault *v, const json_t *list,
          int (*lookup)(const struct pv_policy *, const char *),
          int (*ok)(const struct pv_policy *, int), char *out, size_t cap, uint64_t *mask)
{
    const json_t *e;
    size_t i, len = 0;
    int idx;

    *mask = 0;
    out[0] = '\0';
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 64)
        return PV_EINVAL;
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL || (idx = lookup(v->policy, s)) < 0 || idx >= 64 || !ok(v->policy, idx) ||
            (*mask & (UINT64_C(1) << idx)))
            return PV_EINVAL;
        *mask |= UINT64_C(1) << idx;
        if (len + strlen(s) + 2 > cap)
            return PV_EINVAL;
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", s);
    }
    return 0;
}

static int
key_role_ok(const struct pv_policy *p, int i)
{
    return p->roles[i].scope == PV_SCOPE_ALL || p->roles[i].scope == PV_SCOPE_NONE;
}

static int
any_ok(const struct pv_policy *p, int i)
{
    return 1;
}

static json_t *
str_array(const char *csv)
{
    json_t *a = json_array();
    const char *s = csv, *comma;

    while (a && s && *s) {
        comma = strchr(s, ',');
        json_array_append_new(a, json_stringn(s, comma ? (size_t)(comma - s) : strlen(s)));
        s = comma ? comma + 1 : NULL;
    }
    return a;
}

static json_t *
key_json(const struct pv_apikey *k)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:b}", "id", k->id, "name", k->name, "roles",
                     str_array(k->roles), "purposes", str_array(k->purposes), "created",
                     pv_json_time(k->created), "created_by", k->created_by, "revoked", k->revoked);
}

static int
put_key(struct pv_conn *w, void *arg)
{
    return pv_store_apikey_put(w, arg);
}

int
pv_vault_key_create(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out)
{
    const struct pv_actor *act = call->actor;
    const char *name = json_string_value(json_object_get(body, "name"));
    char key[PV_APIKEY_LEN + 1];
    struct pv_apikey k;
    uint64_t roles, purposes;
    int rc;

    if (!manages_users(v, act)) {
        rc = pv_account_audit(v, act, "key.create", "", 0, "role-cannot-manage-users", NULL, NULL);
        call->reason = "role-cannot-manage-users";
        return rc == 0 ? PV_EDENIED : PV_EAUDIT;
    }
    memset(&k, 0, sizeof k);
    if (!valid_key_name(name))
        return bad(call, "name",
                   "name must be 3 to 27 lowercase letters, digits, '-' or '_', starting with a "
                   "letter");
    if (name_list(v, json_object_get(body, "roles"), pv_policy_role, key_role_ok, k.roles,
                  sizeof k.roles, &roles) != 0)
        return bad(call, "roles",
                   "roles must be a list of the policy's roles whose scope is all or none");
    if (name_list(v, json_object_get(body, "purposes"), pv_policy_purpose, any_ok, k.purposes,
                  sizeof k.purposes, &purposes) != 0)
        return bad(call, "purposes", "purposes must be a list of the policy's purposes");
    pv_id_new("key", k.id);
    pv_strlcpy(k.name, name, sizeof k.name);
    pv_strlcpy(k.created_by, act->user_id, sizeof k.created_by);
    k.created = pv_now_ms();
    pv_apikey_new(key);
    pv_apikey_hash(key, k.hash);
    rc = pv_account_audit(v, act, "key.create", k.id, 1, "permit", put_key, &k);
    if (rc == PV_EEXIST) {
        pv_wipe(key, sizeof key);
        call->detail = "a key with this name exists (names are never reused)";
        pv_strlcpy(call->field, "name", sizeof call->field);
        return PV_ECONFLICT;
    }
    if (rc == 0 && (*out = key_json(&k)) != NULL)
        json_object_set_new(*out, "key", json_string(key)); /* shown this once */
    else if (rc == 0)
        rc = PV_ENOMEM;
    pv_wipe(key, sizeof key);
    return rc == PV_EUNAVAIL ? PV_EAUDIT : rc;
}

static int
list_key(const struct pv_apikey *k, void *arg)
{
    json_t *j = key_json(k);

    return j && json_array_append_new(arg, j) == 0 ? 0 : PV_ENOMEM;
}

int
pv_vault_key_list(struct pv_vault *v, struct pv_call *call, json_t **out)
{
    int permit = manages_users(v, call->actor), rc;
    struct pv_conn *c;
    json_t *list;

    rc = pv_account_audit(v, call->actor, "key.list", "", permit,
                          permit ? "permit" : "role-cannot-manage-users", NULL, NULL);
    if (rc != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-manage-users";
        return PV_EDENIED;
    }
    if ((list = json_array()) == NULL)
        return PV_ENOMEM;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_apikey_list(c, list_key, list);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "keys", list);
    return *out ? 0 : PV_ENOMEM;
}

static int
revoke_key(struct pv_conn *w, void *arg)
{
    return pv_store_apikey_revoke(w, arg);
}

int
pv_vault_key_revoke(struct pv_vault *v, struct pv_call *call, const char *id)
{
    int permit = manages_users(v, call->actor), rc;
    const char *target = pv_id_valid(id, "key") ? id : "";

    rc = pv_account_audit(v, call->actor, "key.revoke", target, permit && target[0],
                          manage_reason(permit, target[0], "no-such-key"), revoke_key, (void *)id);
    if (rc == PV_EAUDIT || rc == PV_EUNAVAIL)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-manage-users";
        return PV_EDENIED;
    }
    if (!target[0] || rc == PV_ENOTFOUND) {
        call->detail = "no such key, or it is revoked already";
        return PV_ENOTFOUND;
    }
    return rc;
}

/* The roles or purposes named in csv, as a mask of the policy's indices below 64. */
static uint64_t
mask_of(const struct pv_policy *p, const char *csv,
        int (*lookup)(const struct pv_policy *, const char *))
{
    char name[PV_NAME_MAX];
    const char *s = csv, *comma;
    uint64_t m = 0;
    size_t n;
    int i;

    while (s && *s) {
        comma = strchr(s, ',');
        n = comma ? (size_t)(comma - s) : strlen(s);
        if (n < sizeof name) {
            memcpy(name, s, n);
            name[n] = '\0';
            if ((i = lookup(p, name)) >= 0 && i < 64)
                m |= UINT64_C(1) << i;
        }
        s = comma ? comma + 1 : NULL;
    }
    return m;
}

int
pv_key_authenticate(struct pv_vault *v, const char *key, struct pv_actor *out)
{
    const struct pv_policy *p = v->policy;
    unsigned char h[PV_HASH_BYTES];
    struct pv_actor who;
    struct pv_apikey k;
    struct pv_conn *c;
    uint64_t roles;
    int rc;

    if (pv_apikey_hash(key, h) != 0)
        return PV_EAUTH;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((rc = pv_store_apikey_by_hash(c, h, &k)) != 0)
        return rc == PV_ENOTFOUND ? PV_EAUTH : rc;
    memset(&who, 0, sizeof who);
    pv_strlcpy(who.user_id, k.id, sizeof who.user_id);
    /* Names are at most 27 characters: "key:" and the name fit a session id. */
    memcpy(who.session_id, "key:", 4);
    pv_strlcpy(who.session_id + 4, k.name, sizeof who.session_id - 4);
    who.key = 1;
    /* Roles the policy no longer has (or that no longer fit a key) are dropped. */
    roles = mask_of(p, k.roles, pv_policy_role);
    for (int i = 0; i < p->nroles && i < 32; i++)
        if ((roles & (UINT64_C(1) << i)) && key_role_ok(p, i))
            who.key_roles |= 1u << i;
    if (k.revoked || who.key_roles == 0) {
        /* A revoked key's attempt is on record under its name. */
        rc = pv_account_audit(v, NULL, "auth.key", k.id, 0,
                              k.revoked ? "key-revoked" : "key-has-no-role", NULL, NULL);
        return rc == 0 ? PV_EAUTH : PV_EAUDIT;
    }
    who.key_purposes = mask_of(p, k.purposes, pv_policy_purpose);
    for (int i = 0; i < p->nroles; i++)
        if (who.key_roles & (1u << i)) {
            who.role = i;
            break;
        }
    *out = who;
    return 0;
}

/* ---- TOTP ------------------------------------------------------------------------- */

/* Percent-encode s into b for an otpauth URI. */
static int
uri_part(struct pv_buf *b, const char *s)
{
    int rc = 0;

    for (; rc == 0 && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            rc = pv_buf_append(b, s, 1);
        else
            rc = pv_buf_printf(b, "%%%02X", ch);
    }
    return rc;
}

static int
put_totp(struct pv_conn *w, void *arg)
{
    return pv_store_totp_put(w, arg);
}

/* Only a person's session enrolls a factor, for themselves. */
static int
person(struct pv_call *call)
{
    if (call->actor == NULL || call->actor->key) {
        call->detail = "second factors belong to people's accounts, not to service keys";
        return PV_EDENIED;
    }
    return 0;
}

int
pv_vault_totp_begin(struct pv_vault *v, struct pv_call *call, json_t **out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    unsigned char secret[PV_TOTP_SECRET_BYTES];
    char b32[PV_BASE32_MAX(PV_TOTP_SECRET_BYTES)], name[128];
    struct pv_seal_ad ad;
    struct pv_totp t;
    struct pv_user u;
    struct pv_dkey dk;
    struct pv_conn *c;
    struct pv_buf uri;
    int rc;

    if ((rc = person(call)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_store_user_get(c, act->user_id, &u)) != 0 ||
        (rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &dk)) != 0)
        return rc;
    memset(&t, 0, sizeof t);
    pv_strlcpy(t.user_id, act->user_id, sizeof t.user_id);
    t.created = pv_now_ms();
    pv_totp_secret_new(secret);
    ad.subject = PV_SYSTEM_OWNER;
    ad.record = t.user_id;
    ad.field = "totp";
    rc = pv_seal(&dk, &ad, secret, sizeof secret, t.sealed, sizeof t.sealed, &t.sealed_len);
    if (rc == 0)
        rc = pv_account_name(&dk, &u, name, sizeof name);
    pv_dkey_wipe(&dk);
    if (rc == 0)
        rc = pv_base32_encode(secret, sizeof secret, b32, sizeof b32);
    pv_wipe(secret, sizeof secret);
    if (rc == 0) {
        rc = pv_account_audit(v, act, "auth.totp.begin", act->user_id, 1, "permit", put_totp, &t);
        if (rc == PV_EEXIST) {
            call->detail = "a second factor is enrolled already; an administrator can reset it";
            rc = PV_ECONFLICT;
        } else if (rc == PV_EUNAVAIL) {
            rc = PV_EAUDIT;
        }
    }
    pv_buf_init(&uri, 4096);
    if (rc == 0) {
        /* otpauth://totp/ISSUER:NAME?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30 */
        rc = pv_buf_puts(&uri, "otpauth://totp/");
        rc = rc ? rc : uri_part(&uri, p->org.name);
        rc = rc ? rc : pv_buf_puts(&uri, ":");
        rc = rc ? rc : uri_part(&uri, name);
        rc = rc ? rc : pv_buf_printf(&uri, "?secret=%s&issuer=", b32);
        rc = rc ? rc : uri_part(&uri, p->org.name);
        rc = rc ? rc
                : pv_buf_printf(&uri, "&algorithm=SHA1&digits=%d&period=%d", PV_TOTP_DIGITS,
                                PV_TOTP_STEP_S);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", b32, "otpauth_uri", uri.data,
                         "algorithm", "SHA1", "digits", PV_TOTP_DIGITS, "period", PV_TOTP_STEP_S);
        rc = *out ? 0 : PV_ENOMEM;
    }
    if (uri.data)
        pv_wipe(uri.data, uri.len);
    pv_buf_fini(&uri);
    pv_wipe(b32, sizeof b32);
    pv_wipe(name, sizeof name);
    return rc;
}

struct totp_use {
    const char *user;
    int64_t step;
};

static int
confirm_totp(struct pv_conn *w, void *arg)
{
    struct totp_use *x = arg;

    return pv_store_totp_use(w, x->user, x->step, 1);
}

int
pv_vault_totp_confirm(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out)
{
    const struct pv_actor *act = call->actor;
    const char *code = json_string_value(json_object_get(body, "code"));
    unsigned char secret[PV_TOTP_SECRET_BYTES], key[PV_HASH_BYTES];
    int64_t now = pv_now_ms(), window = v->policy->auth.failure_window_s * 1000;
    struct totp_use x = {NULL, 0};
    struct pv_totp t;
    struct pv_conn *c;
    int rc, retry = 0;

    if ((rc = person(call)) != 0)
        return rc;
    x.user = act->user_id;
    /* Guessing a code is paced like guessing a password. */
    pv_hash(act->user_id, strlen(act->user_id), key);
    if (pv_throttle_check(v->throttle, key, v->policy->auth.max_user_failures, window, now,
                          &retry) != 0) {
        call->retry_after = retry;
        call->detail = "too many wrong codes: try again after Retry-After seconds";
        return PV_ETHROTTLE;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    rc = pv_store_totp_get(c, act->user_id, &t);
    if (rc == PV_ENOTFOUND || (rc == 0 && t.confirmed)) {
        call->detail =
            rc == 0 ? "the second factor is confirmed already" : "begin with POST /v1/auth/totp";
        return PV_ECONFLICT;
    }
    if (rc == 0)
        rc = pv_totp_secret_open(v, c, &t, secret);
    if (rc == 0)
        rc = pv_totp_verify(secret, sizeof secret, code, now / 1000, t.last_step, &x.step);
    pv_wipe(secret, sizeof secret);
    if (rc == PV_ELOGIN) {
        pv_throttle_fail(v->throttle, key, window, now);
        rc = pv_account_audit(v, act, "auth.totp.confirm", act->user_id, 0, "invalid-totp", NULL,
                              NULL);
        if (rc != 0)
            return PV_EAUDIT;
        return bad(call, "code",
                   "code must be the 6 digits the authenticator shows now (check its clock)");
    }
    if (rc != 0)
        return rc;
    rc = pv_account_audit(v, act, "auth.totp.confirm", act->user_id, 1, "permit", confirm_totp, &x);
    if (rc == PV_ECONFLICT)
        return bad(call, "code", "this code was used already: wait for the next one");
    if (rc != 0)
        return rc == PV_EUNAVAIL ? PV_EAUDIT : rc;
    pv_throttle_reset(v->throttle, key);
    *out = json_pack("{s:b}", "mfa_enrolled", 1);
    return *out ? 0 : PV_ENOMEM;
}

static int
reset_totp(struct pv_conn *w, void *arg)
{
    int rc = pv_store_totp_delete(w, arg);

    /* A lost or stolen device: whoever held it is logged out too. */
    return rc == 0 ? pv_store_session_delete_user(w, arg) : rc;
}

int
pv_vault_totp_reset(struct pv_vault *v, struct pv_call *call, const char *user)
{
    int permit = manages_users(v, call->actor), rc;
    const char *target = pv_id_valid(user, "usr") ? user : "";

    rc = pv_account_audit(v, call->actor, "user.totp.reset", target, permit && target[0],
                          manage_reason(permit, target[0], "no-such-user"), reset_totp,
                          (void *)user);
    if (rc == PV_EAUDIT || rc == PV_EUNAVAIL)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-manage-users";
        return PV_EDENIED;
    }
    if (!target[0] || rc == PV_ENOTFOUND) {
        call->detail = "this user has no second factor";
        return PV_ENOTFOUND;
    }
    return rc;
}

static int
end_sessions(struct pv_conn *w, void *arg)
{
    return pv_store_session_delete_user(w, arg);
}

int
pv_vault_logout_all(struct pv_vault *v, struct pv_call *call, const char *user)
{
    const struct pv_actor *act = call->actor;
    int permit, rc;

    if (act->key) {
        call->detail = "a service key has no sessions; revoke it instead";
        return PV_EDENIED;
    }
    if (user == NULL) {
        rc = pv_account_audit(v, act, "auth.logout_all", act->user_id, 1, "permit", end_sessions,
                              (void *)act->user_id);
        return rc == 0 ? 0 : PV_EAUDIT;
    }
    permit = manages_users(v, act);
    rc = pv_account_audit(v, act, "user.sessions.end", pv_id_valid(user, "usr") ? user : "",
                          permit && pv_id_valid(user, "usr"),
                          manage_reason(permit, pv_id_valid(user, "usr"), "no-such-user"),
                          end_sessions, (void *)user);
    if (rc != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-manage-users";
        return PV_EDENIED;
    }
    return pv_id_valid(user, "usr") ? 0 : PV_ENOTFOUND;
}

int
pv_vault_deny_pending(struct pv_vault *v, const struct pv_actor *act, const char *action,
                      const char *subject)
{
    struct pv_audit_row row;

    memset(&row, 0, sizeof row);
    row.actor = act->user_id;
    row.role = v->policy->roles[act->role].name;
    row.credential = act->session_id;
    row.action = action;
    row.subject = subject && pv_id_valid(subject, "sub") ? subject : "";
    row.decision = "deny";
    row.reason = "mfa-enrollment-required";
    return pv_audit_commit(v->audit, &row, 1, NULL, NULL) == 0 ? PV_EMFA : PV_EAUDIT;
}
