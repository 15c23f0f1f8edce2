/*
 * minors.c: ages, guardians, and the correction of a birth date, which
 * erases at once a child found under the parental consent age without
 * verified parental consent.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

static const char *const relationships[] = {"parent", "legal_guardian"};
/* How a guardian's consent was verified (the COPPA methods). */
static const char *const verifications[] = {"signed-form", "payment-card", "phone-call",
                                            "video-call", "government-id"};

uint64_t
pv_dob_field_mask(const struct pv_vault *v)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];

    for (int i = 0; i < col->nfields; i++)
        if (strcmp(p->categories[col->fields[i].category].key, PV_DOB_CATEGORY) == 0)
            return UINT64_C(1) << i;
    return 0;
}

int
pv_subject_age(struct pv_vault *v, struct pv_conn *c, const struct pv_subject *s, int *age)
{
    struct pv_seal_ad ad = {s->id, "subject", "birth_date"};
    char birth[PV_BIRTH_SEALED_MAX];
    struct pv_dkey dk;
    size_t n;
    int y, m, d, rc;

    if ((rc = pv_vault_subject_key(v, c, s->id, &dk)) != 0)
        return rc;
    rc = pv_unseal(&dk, &ad, s->birth_date, s->birth_date_len, (unsigned char *)birth, sizeof birth,
                   &n);
    pv_dkey_wipe(&dk);
    if (rc == 0)
        rc = pv_date_parse(birth, &y, &m, &d) == 0 ? 0 : PV_ESTORE;
    pv_wipe(birth, sizeof birth);
    if (rc == 0)
        *age = pv_age_years(y, m, d, pv_now());
    return rc;
}

/* A past date YYYY-MM-DD; its age in whole years today. */
static int
past_date(const char *s, int *age)
{
    int y, m, d;

    if (s == NULL || pv_date_parse(s, &y, &m, &d) != 0 ||
        pv_days_from_civil(y, m, d) > pv_now() / 86400)
        return PV_EINVAL;
    *age = pv_age_years(y, m, d, pv_now());
    return 0;
}

static int
one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int
bad(struct pv_call *call, const char *field, const char *detail)
{
    pv_strlcpy(call->field, field, sizeof call->field);
    call->detail = detail;
    return PV_EINVAL;
}

int
pv_guardian_parse(struct pv_vault *v, struct pv_call *call, const json_t *gj, struct pv_guardian *g,
                  int *age, int *consent)
{
    static const char *const keys[] = {"user_id", "birth_date", "relationship", "verification"};
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    const char *user = json_string_value(json_object_get(gj, "user_id"));
    const char *rel = json_string_value(json_object_get(gj, "relationship"));
    const json_t *vj = json_object_get(gj, "verification");
    int self = act && !act->key && p->roles[act->role].scope == PV_SCOPE_SELF, ri;
    const char *key;
    struct pv_user u;
    struct pv_conn *c;
    json_t *value;

    if (!json_is_object(gj))
        return bad(call, "guardian", "guardian must be an object");
    json_object_foreach((json_t *)gj, key, value)
    {
        if (!one_of(key, keys, PV_ARRAY_LEN(keys)))
            return bad(call, "guardian",
                       "guardian takes user_id, birth_date, relationship and verification");
    }
    memset(g, 0, sizeof *g);
    if (past_date(json_string_value(json_object_get(gj, "birth_date")), age) != 0)
        return bad(call, "guardian.birth_date",
                   "guardian.birth_date must be a past date YYYY-MM-DD");
    if (!one_of(rel, relationships, PV_ARRAY_LEN(relationships)))
        return bad(call, "guardian.relationship",
                   "guardian.relationship must be parent or legal_guardian");
    if (vj && !json_is_null(vj) &&
        !one_of(json_string_value(vj), verifications, PV_ARRAY_LEN(verifications)))
        return bad(call, "guardian.verification",
                   "guardian.verification must be signed-form, payment-card, phone-call, "
                   "video-call or government-id");
    if (user == NULL) {
        /* Without a user named, the caller enrolls their own child. */
        if (!self)
            return bad(
                call, "guardian.user_id",
                "guardian.user_id must name the guardian's account when staff enroll a minor");
        user = act->user_id;
    } else if (self && strcmp(user, act->user_id) != 0) {
        return bad(call, "guardian.user_id", "a person may enroll a minor only as the guardian");
    }
    if (pv_store_reader(v->store, &c) != 0 || !pv_id_valid(user, "usr") ||
        pv_store_user_get(c, user, &u) != 0 || (ri = pv_policy_role(p, u.role)) < 0 ||
        p->roles[ri].scope != PV_SCOPE_SELF)
        return bad(call, "guardian.user_id",
                   "guardian.user_id must be the account of a person acting for themselves");
    pv_strlcpy(g->user_id, user, sizeof g->user_id);
    pv_strlcpy(g->relationship, rel, sizeof g->relationship);
    pv_strlcpy(g->verification, json_string_value(vj) ? json_string_value(vj) : "",
               sizeof g->verification);
    g->created = pv_now_ms();
    *consent = g->verification[0] != '\0';
    return 0;
}

/* ---- the birth date ------------------------------------------------------------------ */

struct birth {
    struct pv_vault *v;
    char subject[PV_ID_MAX];
    unsigned char sealed[PV_BIRTH_SEALED_MAX]; /* for the subject row */
    size_t sealed_len;
    uint64_t dob;        /* the profile's birth-date field, 0 if none */
    struct pv_buf field; /* that field, sealed and packed */
    struct pv_record profile;
    struct pv_buf cats;
    struct pv_decision d; /* filled by pv_access before apply runs */
};

static int
first_profile(const struct pv_record *r, void *arg)
{
    struct pv_record *out = arg;

    pv_strlcpy(out->id, r->id, sizeof out->id);
    return 1;
}

static int
apply_birth(struct pv_conn *w, void *arg)
{
    struct birth *b = arg;
    int64_t now = pv_now_ms();
    int rc;

    if (b->d.erase)
        return pv_store_subject_erase(w, b->subject, now);
    rc = pv_store_subject_set_birth_date(w, b->subject, b->sealed, b->sealed_len, now);
    if (rc == 0 && b->dob && b->profile.id[0])
        rc = pv_record_patch(b->v, w, b->v->profile, &b->field, b->dob, 0, &b->profile, &b->cats);
    return rc;
}

int
pv_vault_birth_date_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const json_t *body, json_t **out)
{
    const struct pv_collection *col = &v->policy->collections[v->profile];
    const char *birth = json_string_value(json_object_get(body, "birth_date"));
    struct pv_seal_ad ad = {subject, "subject", "birth_date"};
    struct pv_subject s;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    struct birth *b;
    json_t *value;
    int age, rc, exists;

    if (past_date(birth, &age) != 0)
        return bad(call, "birth_date", "birth_date must be a past date YYYY-MM-DD");
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((b = calloc(1, sizeof *b)) == NULL)
        return PV_ENOMEM;
    b->v = v;
    pv_strlcpy(b->subject, subject, sizeof b->subject);
    b->dob = pv_dob_field_mask(v);
    pv_buf_init(&b->field, 4096);
    pv_buf_init(&b->profile.body, PV_RECORD_BODY_MAX);
    pv_buf_init(&b->cats, 4096);
    exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    memset(&dk, 0, sizeof dk);
    if (exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        /* Seal the new date before asking: the committer only writes. */
        rc = pv_seal(&dk, &ad, birth, strlen(birth), b->sealed, sizeof b->sealed, &b->sealed_len);
        rc = rc ? rc
                : pv_store_record_list(c, subject, "profile", NULL, 1, first_profile, &b->profile);
        if (rc == 1)
            rc = 0;
        for (int i = 0; rc == 0 && b->dob && b->profile.id[0] && i < col->nfields; i++) {
            if (!(b->dob & (UINT64_C(1) << i)))
                continue;
            if ((value = json_string(birth)) == NULL)
                rc = PV_ENOMEM;
            else
                rc = pv_vault_seal_field(&dk, subject, b->profile.id, col->fields[i].name, value,
                                         &b->field);
            json_decref(value);
        }
        pv_strlcpy(b->profile.subject_id, subject, sizeof b->profile.subject_id);
        pv_strlcpy(b->profile.collection, "profile", sizeof b->profile.collection);
    }
    pv_dkey_wipe(&dk);
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_UPDATE;
        a.audit_action = "subject.birth_date";
        a.subject = subject;
        a.collection = v->profile;
        a.record = b->profile.id[0] ? b->profile.id : NULL;
        a.fields = b->dob;
        a.subject_exists = exists;
        a.birth_date_change = 1;
        a.age = age;
        a.parental_consent = exists && pv_store_guardian_consent(c, subject) == 0;
        a.decided = &b->d;
        rc = pv_access(v, call, &a, apply_birth, b, NULL);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s}", "subject_id", subject, "status",
                         b->d.erase ? "erased" : s.status);
        rc = *out ? 0 : PV_ENOMEM;
    }
    pv_buf_fini(&b->field);
    pv_buf_fini(&b->profile.body);
    pv_buf_fini(&b->cats);
    pv_wipe(b, sizeof *b);
    free(b);
    return rc;
}
