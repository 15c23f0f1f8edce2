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

/* Append one account event to the audit log, with apply in its transaction. */
static int
audit_account(struct pv_vault *v, const struct pv_actor *act, const char *action,
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

static int
put_session(struct pv_conn *w, void *arg)
{
    return pv_store_session_put(w, arg);
}

int
pv_vault_login(struct pv_vault *v, const json_t *body, json_t **out)
{
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    unsigned char idx[PV_HASH_BYTES];
    char token[PV_TOKEN_LEN + 1];
    struct pv_actor who;
    struct pv_session s;
    struct pv_user u;
    struct pv_conn *c;
    int rc, found, role;

    if (name == NULL || pw == NULL || strlen(pw) > PASSWORD_MAX)
        return PV_EINVAL;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    found = 0;
    if (valid_username(name)) {
        username_index(v, name, idx);
        rc = pv_store_user_by_name(c, idx, &u);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        found = rc == 0;
    }
    role = found ? pv_policy_role(v->policy, u.role) : -1;
    /* The hash runs whether or not the user exists. */
    rc = pv_password_verify(found ? u.pw_hash : NULL, pw);
    if (rc != 0 || !found || u.disabled || role < 0) {
        memset(&who, 0, sizeof who);
        if (found && role >= 0) {
            memcpy(who.user_id, u.id, sizeof who.user_id);
            who.role = role;
        }
        rc = audit_account(v, found && role >= 0 ? &who : NULL, "auth.login", "", 0,
                           "invalid-credentials", NULL, NULL);
        return rc == 0 ? PV_ELOGIN : PV_EAUDIT;
    }

    memset(&s, 0, sizeof s);
    pv_token_new(token);
    pv_token_hash(token, s.token_hash);
    pv_id_new("ses", s.id);
    memcpy(s.user_id, u.id, sizeof s.user_id);
    s.created = pv_now_ms();
    s.expires = s.created + v->session_ttl_ms;
    memset(&who, 0, sizeof who);
    memcpy(who.user_id, u.id, sizeof who.user_id);
    memcpy(who.session_id, s.id, sizeof who.session_id);
    who.role = role;
    rc = audit_account(v, &who, "auth.login", "", 1, "permit", put_session, &s);
    if (rc != 0) {
        pv_wipe(token, sizeof token);
        return rc == PV_EAUDIT || rc == PV_EUNAVAIL ? PV_EAUDIT : rc;
    }
    *out = json_pack("{s:s, s:o, s:s, s:s, s:o}", "token", token, "expires_at",
                     pv_json_time(s.expires), "role", u.role, "user_id", u.id, "subject_id",
                     u.subject_id[0] ? json_string(u.subject_id) : json_null());
    pv_wipe(token, sizeof token);
    return *out ? 0 : PV_ENOMEM;
}

int
pv_vault_authenticate(struct pv_vault *v, const char *token, struct pv_actor *out)
{
    unsigned char h[PV_HASH_BYTES];
    struct pv_session s;
    struct pv_user u;
    struct pv_conn *c;
    int rc, role;

    if (token == NULL || pv_token_hash(token, h) != 0)
        return PV_EAUTH;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    rc = pv_store_session_get(c, h, &s, &u);
    if (rc == PV_ENOTFOUND)
        return PV_EAUTH;
    if (rc != 0)
        return rc;
    if (s.expires <= pv_now_ms() || u.disabled || (role = pv_policy_role(v->policy, u.role)) < 0)
        return PV_EAUTH;
    memcpy(out->user_id, u.id, sizeof out->user_id);
    memcpy(out->session_id, s.id, sizeof out->session_id);
    memcpy(out->subject_id, u.subject_id, sizeof out->subject_id);
    out->role = role;
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
    rc = audit_account(v, call->actor, "auth.logout", "", 1, "permit", delete_session, h);
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

static json_t *
user_json(struct pv_vault *v, const struct pv_user *u, const struct pv_dkey *dk)
{
    char name[USERNAME_MAX + 1 + PV_SEAL_OVERHEAD];
    struct pv_seal_ad ad = {PV_SYSTEM_OWNER, u->id, "username"};
    size_t n;

    if (pv_unseal(dk, &ad, u->name_sealed, u->name_sealed_len, (unsigned char *)name, sizeof name,
                  &n) != 0)
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
        rc = audit_account(v, act, "user.create", "", 0, "role-cannot-manage-users", NULL, NULL);
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
    rc = audit_account(v, act, "user.create", u.id, 1, "permit", put_user, &u);
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

    rc = audit_account(v, act, "user.list", "", permit,
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
    rc = audit_account(v, NULL, "user.create", u.id, 1, "init", put_user, &u);
    return rc;
}
