/*
 * e2e.c: end-to-end values (categories stored end_to_end) and the public keys
 * they are sealed to.
 *
 * The clients seal such a value; the vault never opens it. A value is a JSON
 * object mapping each reader's user id to a base64 sealed box (libsodium's
 * crypto_box_seal to that reader's registered X25519 public key). The vault
 * checks its shape, that each reader is a user who may read the field under
 * the policy (decided as that user's read, for any purpose their role has)
 * and who registered a key; then it stores the object like any other value,
 * sealed at rest under the subject's key, and serves it back as it came. So a
 * reader the policy does not admit gets no box, and whoever holds the
 * database, the keys or the server's memory still holds no plaintext.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

/* At most this many readers per value, and this many bytes per box: a chat message with room. */
#define E2E_READERS_MAX 16
#define E2E_BOX_MAX ((size_t)64 * 1024 + PV_BOX_SEAL_BYTES)
/* Base64 text of E2E_BOX_MAX bytes, padded. */
#define E2E_BOX_TEXT_MAX (4 * ((E2E_BOX_MAX + 2) / 3))

/* Decode base64 in either alphabet (standard padded, or URL-safe unpadded) into out. */
static int
decode_any(const char *in, unsigned char *out, size_t cap, size_t *len)
{
    if (pv_base64_decode(in, 0, out, cap, len) == 0)
        return 0;
    return pv_base64_decode(in, 1, out, cap, len);
}

static int
sealed_refusal(struct pv_call *call, const char *field, const char *reason, const char *detail)
{
    pv_field_name_copy(call->field, field);
    call->reason = reason;
    call->detail = detail;
    return PV_ESEALED;
}

/* Whether s is base64 of a sealed box: at least one byte sealed, at most E2E_BOX_MAX. */
static int
is_box(const char *s)
{
    size_t n = strlen(s), len = 0;
    unsigned char *buf;
    int ok;

    if (n == 0 || n > E2E_BOX_TEXT_MAX)
        return 0;
    if ((buf = malloc(E2E_BOX_MAX)) == NULL)
        return -1;
    ok = decode_any(s, buf, E2E_BOX_MAX, &len) == 0 && len > PV_BOX_SEAL_BYTES;
    free(buf);
    return ok;
}

int
pv_e2e_shape(const char *field, const json_t *value, struct pv_call *call)
{
    const char *uid;
    json_t *box;
    int ok;

    if (!json_is_object(value))
        return sealed_refusal(call, field, "e2e-not-sealed",
                              "this field is stored end to end: send an object of user id to "
                              "sealed box, sealed by the client, never the value itself");
    if (json_object_size(value) == 0 || json_object_size(value) > E2E_READERS_MAX)
        return sealed_refusal(call, field, "e2e-readers",
                              "an end-to-end value has one sealed box for each of 1 to 16 readers");
    json_object_foreach((json_t *)value, uid, box)
    {
        if (!pv_id_valid(uid, "usr"))
            return sealed_refusal(call, field, "e2e-not-sealed",
                                  "each member of an end-to-end value is named by a user id");
        if (!json_is_string(box) || (ok = is_box(json_string_value(box))) == 0)
            return sealed_refusal(call, field, "e2e-not-sealed",
                                  "each box is base64 of a sealed box (crypto_box_seal) of at "
                                  "most 64 KiB");
        if (ok < 0)
            return PV_ENOMEM;
    }
    return 0;
}

uint64_t
pv_e2e_fields(const struct pv_policy *p, int ci)
{
    const struct pv_collection *col;
    uint64_t m = 0;

    if (ci < 0 || ci >= p->ncollections)
        return 0;
    col = &p->collections[ci];
    for (int i = 0; i < col->nfields; i++)
        if (p->categories[col->fields[i].category].store == PV_STORE_E2E)
            m |= UINT64_C(1) << i;
    return m;
}

/*
 * The fields of collection ci of subject that user may read under the
 * policy, for any purpose their role may state: what the decision would
 * give them, previewed (no audit entry: nothing is read). 0 for a disabled
 * user, a role the policy no longer has, or a service key.
 */
static int
readable(struct pv_vault *v, const struct pv_user *u, const char *subject, int ci,
         const char *record, uint64_t *fields)
{
    const struct pv_policy *p = v->policy;
    struct pv_decision d;
    struct pv_access a;
    struct pv_actor act;
    struct pv_call rcall;
    int role = pv_policy_role(p, u->role), rc;

    *fields = 0;
    if (u->disabled || role < 0)
        return 0;
    memset(&act, 0, sizeof act);
    pv_strlcpy(act.user_id, u->id, sizeof act.user_id);
    pv_strlcpy(act.subject_id, u->subject_id, sizeof act.subject_id);
    act.role = role;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "record.read";
    a.subject = subject;
    a.collection = ci;
    a.record = record;
    a.subject_exists = 1;
    for (int i = 0; i < p->npurposes; i++) {
        if (!(p->purposes[i].roles & (1u << role)))
            continue;
        memset(&rcall, 0, sizeof rcall);
        rcall.actor = &act;
        rcall.purpose = p->purposes[i].key;
        if ((rc = pv_access_preview(v, &rcall, &a, &d)) != 0)
            return rc;
        if (d.permit)
            *fields |= d.fields;
    }
    return 0;
}

/* Whether user id uid may be a reader of field bit of collection ci: 0, or the refusal. */
static int
reader_check(struct pv_vault *v, struct pv_conn *c, struct pv_call *call, const struct pv_access *a,
             const char *field, const char *uid, uint64_t bit)
{
    struct pv_public_key k;
    struct pv_user u;
    uint64_t fields;
    int rc;

    rc = pv_store_user_get(c, uid, &u);
    if (rc == 0)
        rc = readable(v, &u, a->subject, a->collection, a->record, &fields);
    if (rc == PV_ENOTFOUND || (rc == 0 && !(fields & bit)))
        return sealed_refusal(call, field, "e2e-reader-not-allowed",
                              "a box is addressed to a user who may not read this record; seal "
                              "only for the readers GET /v1/subjects/{id}/public-keys lists");
    if (rc != 0)
        return rc;
    rc = pv_store_public_key_get(c, uid, &k);
    if (rc == PV_ENOTFOUND)
        return sealed_refusal(call, field, "e2e-reader-without-key",
                              "a box is addressed to a user who has registered no public key");
    return rc;
}

int
pv_e2e_check(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, int gate,
             const json_t *obj, uint64_t mask)
{
    const struct pv_collection *col;
    struct pv_decision d;
    struct pv_conn *c;
    int rc;

    mask &= pv_e2e_fields(v->policy, a->collection);
    if (mask == 0)
        return 0;
    /* An actor the policy refuses learns nothing of who may read: their own refusal comes
     * first, from pv_access(). */
    if (gate) {
        if ((rc = pv_access_preview(v, call, a, &d)) != 0)
            return rc;
        if (!d.permit)
            return 0;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    col = &v->policy->collections[a->collection];
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        const char *uid;
        json_t *box;

        if (!(mask & (UINT64_C(1) << i)))
            continue;
        json_object_foreach(json_object_get(obj, col->fields[i].name), uid, box)
        {
            if ((rc = reader_check(v, c, call, a, col->fields[i].name, uid, UINT64_C(1) << i)) != 0)
                break;
        }
    }
    /* A refusal about readers is audited: someone tried to address a record to them. */
    if (rc == PV_ESEALED)
        return pv_access_reject(v, call, a->audit_action, a->subject, call->reason, PV_ESEALED);
    return rc;
}

/* ---- public keys ---------------------------------------------------------------------------- */

static json_t *
key_json(const struct pv_public_key *k, const char *role)
{
    char b64[64];

    if (pv_base64_encode(k->key, sizeof k->key, 0, b64, sizeof b64) != 0)
        return NULL;
    return json_pack("{s:s, s:s?, s:s, s:o, s:o}", "user_id", k->user_id, "role", role,
                     "public_key", b64, "created", pv_json_time(k->created), "updated",
                     pv_json_time(k->updated));
}

static int
apply_key(struct pv_conn *w, void *arg)
{
    struct pv_public_key *k = arg;
    struct pv_public_key old;
    int rc = pv_store_public_key_get(w, k->user_id, &old);

    /* The first registration's time stays; the answer says both. */
    if (rc == 0)
        k->created = old.created;
    else if (rc != PV_ENOTFOUND)
        return rc;
    return pv_store_public_key_put(w, k);
}

int
pv_vault_public_key_set(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out)
{
    static const unsigned char zero[PV_BOX_PUBLIC_BYTES];
    const struct pv_actor *act = call->actor;
    const char *b64 = json_string_value(json_object_get(body, "public_key"));
    struct pv_public_key k;
    size_t len = 0;
    int rc;

    if (act == NULL || act->key) {
        call->detail = "public keys belong to people's accounts, not to service keys";
        return PV_EDENIED;
    }
    if (!json_is_object(body) || json_object_size(body) != 1 || b64 == NULL || strlen(b64) > 64 ||
        decode_any(b64, k.key, sizeof k.key, &len) != 0 || len != sizeof k.key ||
        memcmp(k.key, zero, sizeof zero) == 0) {
        call->detail =
            "public_key is the base64 of a 32-byte X25519 public key, and the only member";
        pv_strlcpy(call->field, "public_key", sizeof call->field);
        return PV_EINVAL;
    }
    pv_strlcpy(k.user_id, act->user_id, sizeof k.user_id);
    k.created = k.updated = pv_now_ms();
    rc = pv_account_audit(v, act, "public-key.set", act->user_id, 1, "permit", apply_key, &k);
    if (rc == PV_EUNAVAIL || rc == PV_ENOMEM)
        rc = PV_EAUDIT;
    if (rc == 0 && (*out = key_json(&k, v->policy->roles[act->role].name)) == NULL)
        rc = PV_ENOMEM;
    return rc;
}

struct around {
    struct pv_vault *v;
    struct pv_conn *c;
    const struct pv_access *a;
    uint64_t e2e;
    json_t *keys;
};

/* One key of the users around the subject: listed if its user may read an end-to-end field. */
static int
around_cb(const struct pv_public_key *k, void *arg)
{
    struct around *ar = arg;
    struct pv_user u;
    uint64_t fields;
    json_t *j;
    int rc = pv_store_user_get(ar->c, k->user_id, &u);

    if (rc == PV_ENOTFOUND)
        return 0;
    if (rc == 0)
        rc = readable(ar->v, &u, ar->a->subject, ar->a->collection, NULL, &fields);
    if (rc != 0 || (fields & ar->e2e) == 0)
        return rc;
    if ((j = key_json(k, u.role)) == NULL || json_array_append_new(ar->keys, j) != 0)
        return PV_ENOMEM;
    return 0;
}

int
pv_vault_public_keys(struct pv_vault *v, struct pv_call *call, const char *subject,
                     const char *collection, json_t **out)
{
    struct pv_subject s;
    struct pv_access a;
    struct around ar;
    struct pv_conn *c;
    int ci, rc;

    ci = collection ? pv_policy_collection(v->policy, collection) : -1;
    if (ci < 0 || pv_e2e_fields(v->policy, ci) == 0) {
        call->detail = "collection names a collection of the policy holding an end-to-end category";
        pv_strlcpy(call->field, "collection", sizeof call->field);
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    /* Asked as a read of the end-to-end fields: whoever may read them may seal for the others. */
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "public-key.read";
    a.subject = subject;
    a.collection = ci;
    a.fields = pv_e2e_fields(v->policy, ci);
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    memset(&ar, 0, sizeof ar);
    ar.v = v;
    ar.c = c;
    ar.a = &a;
    ar.e2e = a.fields;
    if ((ar.keys = json_array()) == NULL)
        return PV_ENOMEM;
    if ((rc = pv_store_public_key_around(c, subject, around_cb, &ar)) != 0) {
        json_decref(ar.keys);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:o}", "subject_id", subject, "collection", collection, "keys",
                     ar.keys);
    return *out ? 0 : PV_ENOMEM;
}
