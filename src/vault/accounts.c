/*
 * accounts.c: users, logins and sessions.
 *
 * Usernames are found through a blind index and stored sealed under the
 * system data key; passwords as Argon2id hashes; session tokens only as
 * their hashes. A failed login looks the same, and takes as long, whether
 * or not the user exists.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define USERNAME_MIN 3
#define USERNAME_MAX 64
#define PASSWORD_MIN 12
#define PASSWORD_MAX 1024

static int
valid_username(const char *s)
{
    size_t n = strlen(s);

    if (n < USERNAME_MIN || n > USERNAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._@+-", *s)))
            return 0;
    return 1;
}

static void
username_index(struct pv_vault *v, const char *name, unsigned char out[PV_HASH_BYTES])
{
    char low[USERNAME_MAX + 1];
    size_t i;

    for (i = 0; i < USERNAME_MAX && name[i]; i++) {
        low[i] = name[i];
        if (low[i] >= 'A' && low[i] <= 'Z')
            low[i] = (char)(low[i] - 'A' + 'a');
    }
    low[i] = '\0';
    pv_keyring_blind(v->keys, "username", low, out);
}

int
pv_account_audit(struct pv_vault *v, const struct pv_actor *act, const char *action,
                 const char *target, int permit, const char *reason, pv_apply_fn apply, void *arg)
{
    struct pv_audit_row row;

    memset(&row, 0, sizeof row);
    /* Without an actor: "system" for what phivault does itself, else an anonymous caller. */
    row.actor = act ? act->user_id : strcmp(reason, "init") == 0 ? "system" : "anonymous";
    row.role = act ? v->policy->roles[act->role].name : "";
    row.credential = act ? act->session_id : "";
    row.action = action;
    row.record = target;
    row.decision = permit ? "permit" : "deny";
    row.reason = reason;
    return pv_audit_commit(v->audit, &row, 1, permit ? apply : NULL, arg);
}

/* What a successful login writes: the session, and the TOTP step it used up. */
struct login {
    struct pv_session s;
    int64_t totp_step; /* 0: no code was used */
};

static int
apply_login(struct pv_conn *w, void *arg)
{
    struct login *l = arg;
    int rc = pv_store_session_put(w, &l->s);

    if (rc == 0 && l->totp_step > 0)
        rc = pv_store_totp_use(w, l->s.user_id, l->totp_step, 0);
    return rc;
}

/* A throttle key: a hash of what is counted, apart for each kind. */
static void
throttle_key(const char *kind, const void *p, size_t n, unsigned char out[PV_HASH_BYTES])
{
    struct pv_hasher h;

    pv_hash_init(&h);
    pv_hash_update(&h, kind, strlen(kind) + 1);
    pv_hash_update(&h, p, n);
    pv_hash_final(&h, out);
}

int
pv_totp_secret_open(struct pv_vault *v, struct pv_conn *c, const struct pv_totp *t,
                    unsigned char secret[PV_TOTP_SECRET_BYTES])
{
    struct pv_seal_ad ad = {PV_SYSTEM_OWNER, t->user_id, "totp"};
    unsigned char buf[PV_TOTP_SECRET_BYTES + 1];
    struct pv_dkey dk;
    size_t n;
    int rc;

    if ((rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &dk)) != 0)
        return rc;
    rc = pv_unseal(&dk, &ad, t->sealed, t->sealed_len, buf, sizeof buf, &n);
    pv_dkey_wipe(&dk);
    if (rc == 0 && n != PV_TOTP_SECRET_BYTES)
        rc = PV_ESTORE;
    if (rc == 0)
        memcpy(secret, buf, PV_TOTP_SECRET_BYTES);
    pv_wipe(buf, sizeof buf);
    return rc;
}

int
pv_vault_login(struct pv_vault *v, struct pv_call *call, const char *client, const json_t *body,
               json_t **out)
{
    const struct pv_policy *p = v->policy;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    const json_t *tj = json_object_get(body, "totp");
    const char *code = json_string_value(tj);
    unsigned char idx[PV_HASH_BYTES], ukey[PV_HASH_BYTES], akey[PV_HASH_BYTES];
    unsigned char secret[PV_TOTP_SECRET_BYTES];
    int64_t now = pv_now_ms(), window = p->auth.failure_window_s * 1000;
    char token[PV_TOKEN_LEN + 1];
    struct pv_actor who;
    struct login l;
    struct pv_totp t;
    struct pv_user u;
    struct pv_conn *c;
    int rc, found, role, valid, retry = 0, mfa, enrolled = 0;

    if (name == NULL || pw == NULL || strlen(pw) > PASSWORD_MAX || (tj && !json_is_string(tj)))
        return PV_EINVAL;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    found = 0;
    valid = valid_username(name);
    if (valid) {
        username_index(v, name, idx);
        rc = pv_store_user_by_name(c, idx, &u);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        found = rc == 0;
        /* Counted by name, whether or not the user exists, so a 429 reveals nothing. */
        throttle_key("user", idx, sizeof idx, ukey);
    }
    throttle_key("address", client ? client : "", client ? strlen(client) : 0, akey);
    role = found ? pv_policy_role(v->policy, u.role) : -1;
    memset(&who, 0, sizeof who);
    if (found && role >= 0) {
        memcpy(who.user_id, u.id, sizeof who.user_id);
        who.role = role;
    }
    if (pv_throttle_check(v->throttle, akey, p->auth.max_address_failures, window, now, &retry) !=
            0 ||
        (valid && pv_throttle_check(v->throttle, ukey, p->auth.max_user_failures, window, now,
                                    &retry) != 0)) {
        /* Refused before the password is hashed: guessing costs the server nothing more. */
        rc = pv_account_audit(v, found && role >= 0 ? &who : NULL, "auth.login", "", 0, "throttled",
                              NULL, NULL);
        call->retry_after = retry;
        call->detail = "too many failed logins: try again after Retry-After seconds";
        return rc == 0 ? PV_ETHROTTLE : PV_EAUDIT;
    }
    /* The hash runs whether or not the user exists. */
    rc = pv_password_verify(found ? u.pw_hash : NULL, pw);
    if (rc != 0 || !found || u.disabled || role < 0) {
        pv_throttle_fail(v->throttle, akey, window, now);
        if (valid)
            pv_throttle_fail(v->throttle, ukey, window, now);
        rc = pv_account_audit(v, found && role >= 0 ? &who : NULL, "auth.login", "", 0,
                              "invalid-credentials", NULL, NULL);
        return rc == 0 ? PV_ELOGIN : PV_EAUDIT;
    }

    memset(&l, 0, sizeof l);
    /* The second factor: required of the roles the policy names, and of anyone who enrolled one. */
    mfa = (p->auth.mfa_roles & (1u << role)) != 0;
    rc = pv_store_totp_get(c, u.id, &t);
    if (rc != 0 && rc != PV_ENOTFOUND)
        return rc;
    enrolled = rc == 0 && t.confirmed;
    if (enrolled && code == NULL) {
        rc = pv_account_audit(v, &who, "auth.login", "", 0, "mfa-required", NULL, NULL);
        call->detail = "this account logs in with a code from its authenticator: send totp";
        return rc == 0 ? PV_EMFA : PV_EAUDIT;
    }
    if (enrolled) {
        rc = pv_totp_secret_open(v, c, &t, secret);
        if (rc == 0)
            rc = pv_totp_verify(secret, sizeof secret, code, now / 1000, t.last_step, &l.totp_step);
        pv_wipe(secret, sizeof secret);
        if (rc == PV_ELOGIN) {
            pv_throttle_fail(v->throttle, akey, window, now);
            pv_throttle_fail(v->throttle, ukey, window, now);
            rc = pv_account_audit(v, &who, "auth.login", "", 0, "invalid-totp", NULL, NULL);
            return rc == 0 ? PV_ELOGIN : PV_EAUDIT;
        }
        if (rc != 0)
            return rc;
    }

    pv_token_new(token);
    pv_token_hash(token, l.s.token_hash);
    pv_id_new("ses", l.s.id);
    memcpy(l.s.user_id, u.id, sizeof l.s.user_id);
    l.s.created = now;
    l.s.expires = l.s.created + v->session_ttl_ms;
    memcpy(who.session_id, l.s.id, sizeof who.session_id);
    rc = pv_account_audit(v, &who, "auth.login", "", 1, "permit", apply_login, &l);
    if (rc != 0) {
        pv_wipe(token, sizeof token);
        return rc == PV_EAUDIT || rc == PV_EUNAVAIL ? PV_EAUDIT : rc;
    }
    pv_throttle_reset(v->throttle, ukey);
    *out = json_pack("{s:s, s:o, s:s, s:s, s:o, s:b}", "token", token, "expires_at",
                     pv_json_time(l.s.expires), "role", u.role, "user_id", u.id, "subject_id",
                     u.subject_id[0] ? json_string(u.subject_id) : json_null(),
                     "mfa_enrollment_required", mfa && !enrolled);
    pv_wipe(token, sizeof token);
    return *out ? 0 : PV_ENOMEM;
}

static int
touch_session(struct pv_conn *w, void *arg)
{
    return pv_store_session_touch(w, arg, pv_now_ms());
}

int
pv_vault_authenticate(struct pv_vault *v, const char *token, struct pv_actor *out)
{
    const struct pv_policy *p = v->policy;
    unsigned char h[PV_HASH_BYTES];
    int64_t now = pv_now_ms(), idle_ms = p->auth.idle_s * 1000;
    struct pv_session s;
    struct pv_totp t;
    struct pv_user u;
    struct pv_conn *c;
    int rc, role, pending = 0;

    if (token != NULL && strncmp(token, "pvk_", 4) == 0)
        return pv_key_authenticate(v, token, out);
    if (token == NULL || pv_token_hash(token, h) != 0)
        return PV_EAUTH;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    rc = pv_store_session_get(c, h, &s, &u);
    if (rc == PV_ENOTFOUND)
        return PV_EAUTH;
    if (rc != 0)
        return rc;
    if (s.expires <= now || u.disabled || (role = pv_policy_role(v->policy, u.role)) < 0)
        return PV_EAUTH;
    /* Automatic logoff: a session idle longer than the policy allows is over. */
    if (idle_ms > 0 && now - s.last_seen > idle_ms)
        return PV_EAUTH;
    if (p->auth.mfa_roles & (1u << role)) {
        rc = pv_store_totp_get(c, u.id, &t);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        pending = rc != 0 || !t.confirmed;
    }
    /* Activity is written at most once a minute (or a quarter of the idle time): a write per
     * request would cost a commit each. */
    if (idle_ms > 0 && now - s.last_seen >= (idle_ms / 4 < 60000 ? idle_ms / 4 : 60000) &&
        pv_audit_commit(v->audit, NULL, 0, touch_session, h) != 0)
        return PV_EAUDIT;
    memset(out, 0, sizeof *out);
    memcpy(out->user_id, u.id, sizeof out->user_id);
    memcpy(out->session_id, s.id, sizeof out->session_id);
    memcpy(out->subject_id, u.subject_id, sizeof out->subject_id);
    out->role = role;
    out->mfa_pending = pending;
    return 0;
}

static int
delete_session(struct pv_conn *w, void *arg)
{
    return pv_store_session_delete(w, arg);
}

int
pv_vault_logout(struct pv_vault *v, struct pv_call *call, const char *token)
{
    unsigned char h[PV_HASH_BYTES];
    int rc;

    if (pv_token_hash(token, h) != 0)
        return PV_EAUTH;
    rc = pv_account_audit(v, call->actor, "auth.logout", "", 1, "permit", delete_session, h);
    return rc == 0 ? 0 : PV_EAUDIT;
}

/* ---- users ------------------------------------------------------------------ */

static int
put_user(struct pv_conn *w, void *arg)
{
    return pv_store_user_put(w, arg);
}

/* Build a user row (hashing the password, sealing the name); nothing is stored. */
static int
make_user(struct pv_vault *v, const char *name, const char *pw, const char *role,
          const char *subject, struct pv_user *u, struct pv_call *call)
{
    struct pv_seal_ad ad;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc;

    memset(u, 0, sizeof *u);
    if (!valid_username(name)) {
        call->detail = "username must be 3 to 64 letters, digits or . _ @ + -";
        pv_strlcpy(call->field, "username", sizeof call->field);
        return PV_EINVAL;
    }
    if (strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX) {
        call->detail = "password must be 12 to 1024 characters";
        pv_strlcpy(call->field, "password", sizeof call->field);
        return PV_EINVAL;
    }
    if (pv_policy_role(v->policy, role) < 0) {
        call->detail = "role must be one of the policy's roles";
        pv_strlcpy(call->field, "role", sizeof call->field);
        return PV_EINVAL;
    }
    pv_id_new("usr", u->id);
    username_index(v, name, u->name_index);
    pv_strlcpy(u->role, role, sizeof u->role);
    if (subject)
        pv_strlcpy(u->subject_id, subject, sizeof u->subject_id);
    u->created = pv_now_ms();
    if ((rc = pv_password_hash(pw, u->pw_hash)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &dk)) != 0)
        return rc;
    ad.subject = PV_SYSTEM_OWNER;
    ad.record = u->id;
    ad.field = "username";
    rc = pv_seal(&dk, &ad, name, strlen(name), u->name_sealed, sizeof u->name_sealed,
                 &u->name_sealed_len);
    pv_dkey_wipe(&dk);
    return rc;
}

int
pv_account_name(const struct pv_dkey *dk, const struct pv_user *u, char *out, size_t cap)
{
    struct pv_seal_ad ad = {PV_SYSTEM_OWNER, u->id, "username"};
    size_t n;

    if (cap < u->name_sealed_len)
        return PV_ETOOBIG;
    return pv_unseal(dk, &ad, u->name_sealed, u->name_sealed_len, (unsigned char *)out, cap, &n);
}

static json_t *
user_json(struct pv_vault *v, const struct pv_user *u, const struct pv_dkey *dk)
{
    char name[USERNAME_MAX + 1 + PV_SEAL_OVERHEAD];

    if (pv_account_name(dk, u, name, sizeof name) != 0)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", u->id, "username", name, "role", u->role,
                     "subject_id", u->subject_id[0] ? json_string(u->subject_id) : json_null(),
                     "created", pv_json_time(u->created));
}

int
pv_vault_user_create(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out)
{
    const struct pv_actor *act = call->actor;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    const char *role = json_string_value(json_object_get(body, "role"));
    const json_t *sj = json_object_get(body, "subject_id");
    const char *subject = json_string_value(sj);
    int permit = (v->policy->roles[act->role].powers & PV_POWER_USERS) != 0;
    struct pv_subject s;
    struct pv_user u;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc, ri;

    if (!permit) {
        rc = pv_account_audit(v, act, "user.create", "", 0, "role-cannot-manage-users", NULL, NULL);
        call->reason = "role-cannot-manage-users";
        return rc == 0 ? PV_EDENIED : PV_EAUDIT;
    }
    if (name == NULL || pw == NULL || role == NULL || (sj && !json_is_null(sj) && !subject)) {
        call->detail = "username, password and role are required strings; subject_id a string";
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if (subject) {
        ri = pv_policy_role(v->policy, role);
        if (ri < 0 || v->policy->roles[ri].scope != PV_SCOPE_SELF) {
            call->detail = "only a role acting for itself may be linked to a subject";
            pv_strlcpy(call->field, "subject_id", sizeof call->field);
            return PV_EINVAL;
        }
        if (!pv_id_valid(subject, "sub") || pv_store_subject_get(c, subject, &s) != 0) {
            call->detail = "subject_id names no subject";
            pv_strlcpy(call->field, "subject_id", sizeof call->field);
            return PV_EINVAL;
        }
    }
    if ((rc = make_user(v, name, pw, role, subject, &u, call)) != 0)
        return rc;
    rc = pv_account_audit(v, act, "user.create", u.id, 1, "permit", put_user, &u);
    if (rc == PV_EEXIST) {
        call->detail = "a user with this username exists";
        return PV_ECONFLICT;
    }
    if (rc != 0)
        return rc == PV_EUNAVAIL ? PV_EAUDIT : rc;
    if ((rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &dk)) != 0)
        return rc;
    *out = user_json(v, &u, &dk);
    pv_dkey_wipe(&dk);
    return *out ? 0 : PV_ENOMEM;
}

struct list_ctx {
    struct pv_vault *v;
    const struct pv_dkey *dk;
    json_t *list;
};

static int
list_cb(const struct pv_user *u, void *arg)
{
    struct list_ctx *l = arg;
    json_t *j = user_json(l->v, u, l->dk);

    return j && json_array_append_new(l->list, j) == 0 ? 0 : PV_ESTORE;
}

int
pv_vault_user_list(struct pv_vault *v, struct pv_call *call, json_t **out)
{
    const struct pv_actor *act = call->actor;
    int permit = (v->policy->roles[act->role].powers & PV_POWER_USERS) != 0, rc;
    struct list_ctx l = {v, NULL, NULL};
    struct pv_dkey dk;
    struct pv_conn *c;

    rc = pv_account_audit(v, act, "user.list", "", permit,
                          permit ? "permit" : "role-cannot-manage-users", NULL, NULL);
    if (rc != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-manage-users";
        return PV_EDENIED;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &dk)) != 0)
        return rc;
    l.dk = &dk;
    l.list = json_array();
    rc = l.list ? pv_store_user_list(c, list_cb, &l) : PV_ENOMEM;
    pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(l.list);
        return rc;
    }
    *out = json_pack("{s:o}", "users", l.list);
    return *out ? 0 : PV_ENOMEM;
}

int
pv_vault_bootstrap_admin(struct pv_vault *v, const char *password)
{
    const struct pv_policy *p = v->policy;
    struct pv_call call;
    struct pv_user u;
    int role = -1, rc;

    for (int i = 0; i < p->nroles && role < 0; i++)
        if (p->roles[i].powers & PV_POWER_USERS)
            role = i;
    if (role < 0)
        return PV_EPOLICY; /* no role can manage users: nobody could ever log in */
    memset(&call, 0, sizeof call);
    if ((rc = make_user(v, "admin", password, p->roles[role].name, NULL, &u, &call)) != 0)
        return rc;
    rc = pv_account_audit(v, NULL, "user.create", u.id, 1, "init", put_user, &u);
    return rc;
}
