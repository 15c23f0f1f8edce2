/*
 * subjects.c: enrollment, reading a subject, look-up by blind index and
 * provider assignment.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

static const char *const sources[] = {"web", "app", "staff", "phone", "written", "api"};

#define DOB_CATEGORY "user.demographic.date_of_birth"

struct enroll {
    struct pv_vault *v;
    struct pv_subject s;
    struct pv_dkey dk; /* wrapped inside the transaction, under the master version in force */
    struct pv_record profile;
    struct pv_buf cats;
    struct {
        const char *index; /* category key */
        unsigned char d[PV_HASH_BYTES];
    } idx[PV_MAX_FIELDS];
    int nidx;
    const char *link_user;   /* a patient enrolling themselves */
    const char *assign_user; /* a provider enrolling a client */
    int has_guardian;        /* a guardian enrolls a minor and will act for them */
    struct pv_guardian guardian;

    /* The policy acceptance, appended to the consent ledger. */
    struct pv_consent_row accepted;
};

static int
apply_enroll(struct pv_conn *w, void *arg)
{
    struct enroll *e = arg;
    int64_t now = e->s.created;
    int rc;

    if ((rc = pv_vault_key_store(e->v, w, e->s.id, &e->dk, now)) != 0 ||
        (rc = pv_store_subject_put(w, &e->s)) != 0 ||
        (rc = pv_store_record_put(w, &e->profile, e->cats.data ? e->cats.data : "")) != 0)
        return rc;
    for (int i = 0; i < e->nidx; i++)
        if ((rc = pv_store_index_put(w, e->idx[i].index, e->idx[i].d, e->s.id)) != 0)
            return rc;
    if (e->link_user && (rc = pv_store_user_set_subject(w, e->link_user, e->s.id)) != 0)
        return rc;
    if (e->assign_user && (rc = pv_store_assign_put(w, e->s.id, e->assign_user, now)) != 0)
        return rc;
    if (e->has_guardian && (rc = pv_store_guardian_put(w, &e->guardian)) != 0)
        return rc;
    return pv_store_consent_put(w, &e->accepted);
}

/* Blind-index every indexed field of the profile. */
static int
index_profile(struct pv_vault *v, const json_t *profile, struct enroll *e)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];
    char norm[512];

    for (int i = 0; i < col->nfields; i++) {
        const struct pv_category *cat = &p->categories[col->fields[i].category];
        const char *s = json_string_value(json_object_get(profile, col->fields[i].name));
        if (!cat->index || s == NULL || pv_index_normalize(cat->key, s, norm, sizeof norm) != 0)
            continue;
        e->idx[e->nidx].index = cat->key;
        pv_keyring_blind(v->keys, cat->key, norm, e->idx[e->nidx].d);
        pv_wipe(norm, sizeof norm);
        e->nidx++;
    }
    return 0;
}

/* Whether field j of the profile holds category key. */
static int
field_in_category(const struct pv_policy *p, const struct pv_collection *col, int j,
                  const char *key)
{
    return strcmp(p->categories[col->fields[j].category].key, key) == 0;
}

/* Blind-index one sealed profile value of r (a JSON string) under its category key. */
static int
index_sealed(struct pv_vault *v, struct pv_conn *w, const struct pv_record *r,
             const struct pv_dkey *dk, const char *field, const char *key,
             const unsigned char *sealed, size_t len)
{
    struct pv_seal_ad ad = {r->subject_id, r->id, field};
    unsigned char d[PV_HASH_BYTES];
    unsigned char *pt = malloc(len);
    char norm[512];
    json_error_t jerr;
    json_t *value = NULL;
    size_t n;
    int rc;

    if (pt == NULL)
        return PV_ENOMEM;
    rc = pv_unseal(dk, &ad, sealed, len, pt, len, &n);
    if (rc == 0)
        value = json_loadb((const char *)pt, n, JSON_DECODE_ANY, &jerr);
    if (rc == 0 && json_is_string(value) &&
        pv_index_normalize(key, json_string_value(value), norm, sizeof norm) == 0) {
        pv_keyring_blind(v->keys, key, norm, d);
        pv_wipe(norm, sizeof norm);
        rc = pv_store_index_put(w, key, d, r->subject_id);
    }
    json_decref(value);
    pv_wipe(pt, len);
    free(pt);
    return rc;
}

int
pv_profile_reindex(struct pv_vault *v, struct pv_conn *w, const struct pv_record *r,
                   uint64_t touched)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];
    const unsigned char *sealed;
    uint64_t done = 0;
    struct pv_dkey dk;
    int have_key = 0, rc = 0;
    size_t len;

    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        const struct pv_category *cat = &p->categories[col->fields[i].category];
        if (!(touched & (UINT64_C(1) << i)) || !cat->index || (done & (UINT64_C(1) << i)))
            continue;
        /* Every field of this category is indexed anew, touched or not. */
        if ((rc = pv_store_index_delete(w, r->subject_id, cat->key)) != 0)
            break;
        for (int j = 0; rc == 0 && j < col->nfields; j++) {
            if (!field_in_category(p, col, j, cat->key))
                continue;
            done |= UINT64_C(1) << j;
            if (pv_body_find(&r->body, col->fields[j].name, &sealed, &len) != 0)
                continue;
            if (!have_key && (rc = pv_vault_subject_key(v, w, r->subject_id, &dk)) == 0)
                have_key = 1;
            if (rc == 0)
                rc = index_sealed(v, w, r, &dk, col->fields[j].name, cat->key, sealed, len);
        }
    }
    if (have_key)
        pv_dkey_wipe(&dk);
    return rc;
}

int
pv_vault_enroll(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];
    const struct pv_actor *act = call->actor;
    const char *version = json_string_value(json_object_get(body, "policy_version"));
    const char *birth = json_string_value(json_object_get(body, "birth_date"));
    const json_t *src = json_object_get(body, "source");
    const json_t *gj = json_object_get(body, "guardian");
    json_t *profile = json_object_get(body, "profile");
    struct pv_access a;
    struct pv_fieldset fs;
    struct pv_seal_ad ad;
    struct enroll *e;
    int y, m, d, rc, dob = -1, guardian_age = 0, consent = 0;
    struct pv_guardian guardian;
    size_t si;

    if (!json_is_object(body)) {
        call->detail = "the body must be a JSON object";
        return PV_EINVAL;
    }
    if (birth == NULL || pv_date_parse(birth, &y, &m, &d) != 0 ||
        pv_days_from_civil(y, m, d) > pv_now() / 86400) {
        call->detail = "birth_date must be a past date YYYY-MM-DD";
        pv_strlcpy(call->field, "birth_date", sizeof call->field);
        return PV_EINVAL;
    }
    if (profile != NULL && !json_is_object(profile)) {
        call->detail = "profile must be an object of the profile collection's fields";
        pv_strlcpy(call->field, "profile", sizeof call->field);
        return PV_EINVAL;
    }
    for (si = 0; src && si < PV_ARRAY_LEN(sources); si++)
        if (json_is_string(src) && strcmp(json_string_value(src), sources[si]) == 0)
            break;
    if (src && si == PV_ARRAY_LEN(sources)) {
        call->detail = "source must be web, app, staff, phone, written or api";
        pv_strlcpy(call->field, "source", sizeof call->field);
        return PV_EINVAL;
    }
    if (gj && !json_is_null(gj) &&
        (rc = pv_guardian_parse(v, call, gj, &guardian, &guardian_age, &consent)) != 0)
        return rc;
    /* The birth date fills the profile's date-of-birth field when one is declared. */
    profile = profile ? json_deep_copy(profile) : json_object();
    if (profile == NULL)
        return PV_ENOMEM;
    for (int i = 0; i < col->nfields; i++)
        if (strcmp(p->categories[col->fields[i].category].key, DOB_CATEGORY) == 0)
            dob = i;
    if (dob >= 0 && json_object_get(profile, col->fields[dob].name) == NULL)
        json_object_set_new(profile, col->fields[dob].name, json_string(birth));
    if ((rc = pv_fields_scan(v, v->profile, profile, &fs, call)) != 0) {
        json_decref(profile);
        return rc;
    }

    if ((e = calloc(1, sizeof *e)) == NULL) {
        json_decref(profile);
        return PV_ENOMEM;
    }
    pv_buf_init(&e->cats, 4096);
    pv_buf_init(&e->profile.body, PV_RECORD_BODY_MAX);
    pv_id_new("sub", e->s.id);
    pv_id_new("rec", e->profile.id);
    pv_strlcpy(e->s.status, "active", sizeof e->s.status);
    e->s.created = e->s.updated = e->s.accepted_at = pv_now_ms();
    pv_strlcpy(e->s.policy_version, p->version, sizeof e->s.policy_version);
    pv_strlcpy(e->s.accepted_source, src ? sources[si] : "api", sizeof e->s.accepted_source);
    memcpy(e->profile.subject_id, e->s.id, sizeof e->s.id);
    pv_strlcpy(e->profile.collection, "profile", sizeof e->profile.collection);
    e->profile.created = e->profile.updated = e->s.created;

    /* Seal everything before asking: the committer only writes (and wraps the key). */
    e->v = v;
    pv_dkey_new(&e->dk, 1);
    ad.subject = e->s.id;
    ad.record = "subject";
    ad.field = "birth_date";
    rc = pv_seal(&e->dk, &ad, birth, strlen(birth), e->s.birth_date, sizeof e->s.birth_date,
                 &e->s.birth_date_len);
    if (rc == 0)
        rc = pv_fields_seal(v, &e->dk, e->s.id, e->profile.id, v->profile, profile, fs.mask,
                            &e->profile.body);
    if (rc == 0)
        rc = pv_vault_categories(v, v->profile, fs.mask, &e->cats);
    if (rc == 0)
        rc = index_profile(v, profile, e);
    if (rc == 0 && gj && !json_is_null(gj)) {
        e->has_guardian = 1;
        e->guardian = guardian;
        memcpy(e->guardian.subject_id, e->s.id, sizeof e->s.id);
    }
    pv_consent_row_init(v, &e->accepted, e->s.id, p->consents[p->policy_kind], 1,
                        e->s.accepted_source, act ? act->user_id : "anonymous");
    e->accepted.ts = e->s.accepted_at;
    if (rc == 0 && act) {
        /* A person enrolling their child is the child's guardian, not the child. */
        if (p->roles[act->role].scope == PV_SCOPE_SELF && !e->has_guardian)
            e->link_user = act->user_id;
        else if (p->roles[act->role].scope == PV_SCOPE_ASSIGNED)
            e->assign_user = act->user_id;
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_ENROLL;
        a.audit_action = "subject.enroll";
        a.subject = e->s.id;
        a.collection = v->profile;
        a.record = e->profile.id;
        a.fields = fs.mask;
        a.undeclared = fs.undeclared;
        a.policy_version = version;
        a.age = pv_age_years(y, m, d, pv_now());
        a.subject_exists = 1;
        a.enroll_guardian = e->has_guardian;
        a.guardian_age = guardian_age;
        a.parental_consent = consent;
        rc = pv_access(v, call, &a, apply_enroll, e, NULL);
    }
    if (rc == 0) {
        char t[21];
        pv_time_format(e->s.accepted_at / 1000, t);
        *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", e->s.id, "status", e->s.status,
                         "policy_version", e->s.policy_version, "accepted_at", t, "accepted_source",
                         e->s.accepted_source, "profile_id", e->profile.id);
        if (*out == NULL)
            rc = PV_ENOMEM;
    }
    json_decref(profile);
    pv_buf_fini(&e->cats);
    pv_buf_fini(&e->profile.body);
    pv_wipe(e, sizeof *e);
    free(e);
    return rc;
}

/* The first profile record of a subject. */
static int
first_profile(const struct pv_record *r, void *arg)
{
    struct pv_record *out = arg;

    memcpy(out->id, r->id, sizeof out->id);
    out->created = r->created;
    out->updated = r->updated;
    pv_buf_reset(&out->body);
    return pv_buf_append(&out->body, r->body.data, r->body.len) == 0 ? 1 : PV_ENOMEM;
}

int
pv_vault_subject_get(struct pv_vault *v, struct pv_call *call, const char *id, json_t **out)
{
    struct pv_decision d;
    struct pv_subject s;
    struct pv_record prof;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    json_t *fields = NULL, *withheld = NULL, *pj;
    int rc, exists;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&s, 0, sizeof s);
    exists = pv_id_valid(id, "sub") && pv_store_subject_get(c, id, &s) == 0;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "subject.read";
    a.subject = id;
    a.collection = v->profile;
    a.subject_exists = exists;
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0)
        return rc;

    memset(&prof, 0, sizeof prof);
    pv_buf_init(&prof.body, PV_RECORD_BODY_MAX);
    rc = pv_store_record_list(c, id, "profile", NULL, 1, first_profile, &prof);
    if (rc == 1)
        rc = 0;
    if (rc == 0 && (rc = pv_vault_subject_key(v, c, id, &dk)) == 0) {
        fields = json_object();
        withheld = json_array();
        rc = fields && withheld ? pv_body_open(v, &dk, id, prof.id, v->profile, &prof.body,
                                               d.fields, fields, withheld)
                                : PV_ENOMEM;
        pv_dkey_wipe(&dk);
    }
    pv_buf_fini(&prof.body);
    if (rc != 0) {
        json_decref(fields);
        json_decref(withheld);
        return rc;
    }
    pj = json_pack("{s:s?, s:o, s:o}", "id", prof.id[0] ? prof.id : NULL, "fields", fields,
                   "withheld", withheld);
    *out = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s, s:o}", "id", s.id, "status", s.status,
                     "created", pv_json_time(s.created), "policy_version", s.policy_version,
                     "accepted_at", pv_json_time(s.accepted_at), "accepted_source",
                     s.accepted_source, "profile", pj ? pj : json_null());
    return *out ? 0 : PV_ENOMEM;
}

/* ---- look-up ------------------------------------------------------------------- */

struct lookup {
    struct pv_vault *v;
    struct pv_call *call;
    char ids[100][PV_ID_MAX];
    int n;
};

/* A match is shown only if the caller could read that subject's profile for this purpose. */
static int
lookup_cb(const char *subject, void *arg)
{
    struct lookup *l = arg;
    struct pv_decision d;
    struct pv_access a;
    int rc;

    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.subject = subject;
    a.collection = l->v->profile;
    a.subject_exists = 1;
    if ((rc = pv_access_preview(l->v, l->call, &a, &d)) != 0)
        return rc;
    if (d.permit && l->n < (int)PV_ARRAY_LEN(l->ids))
        pv_strlcpy(l->ids[l->n++], subject, PV_ID_MAX);
    return 0;
}

int
pv_vault_subject_lookup(struct pv_vault *v, struct pv_call *call, const char *field,
                        const char *value, json_t **out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];
    const struct pv_actor *act = call->actor;
    struct pv_audit_row rows[100];
    unsigned char digest[PV_HASH_BYTES];
    const struct pv_category *cat;
    struct pv_decision d;
    struct pv_access a;
    struct lookup *l;
    struct pv_conn *c;
    json_t *list;
    char norm[512];
    int fi = pv_policy_field(col, field), rc;

    if (fi < 0 || !p->categories[col->fields[fi].category].index) {
        call->detail = "subjects can be looked up only by an indexed profile field";
        pv_strlcpy(call->field, fi < 0 ? "query" : field, sizeof call->field);
        return PV_EINVAL;
    }
    cat = &p->categories[col->fields[fi].category];
    if (pv_index_normalize(cat->key, value, norm, sizeof norm) != 0) {
        call->detail = "the value to look up is empty or too long";
        return PV_EINVAL;
    }
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_LOOKUP;
    a.audit_action = "subject.lookup";
    a.collection = v->profile;
    a.fields = UINT64_C(1) << fi;
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0) {
        pv_wipe(norm, sizeof norm);
        return rc;
    }
    pv_keyring_blind(v->keys, cat->key, norm, digest);
    pv_wipe(norm, sizeof norm);
    if ((l = calloc(1, sizeof *l)) == NULL)
        return PV_ENOMEM;
    l->v = v;
    l->call = call;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_index_find(c, cat->key, digest, lookup_cb, l);
    /* Each subject disclosed by the look-up gets an entry of its own, before it leaves. */
    if (rc == 0 && l->n > 0) {
        memset(rows, 0, sizeof rows);
        for (int i = 0; i < l->n; i++) {
            rows[i].actor = act->user_id;
            rows[i].role = p->roles[act->role].name;
            rows[i].credential = act->session_id;
            rows[i].action = "subject.lookup.match";
            rows[i].subject = l->ids[i];
            rows[i].collection = "profile";
            rows[i].categories = cat->key;
            rows[i].purpose = p->purposes[d.purpose].key;
            rows[i].decision = "permit";
            rows[i].reason = "permit";
        }
        if (pv_audit_commit(v->audit, rows, l->n, NULL, NULL) != 0)
            rc = PV_EAUDIT;
    }
    list = json_array();
    for (int i = 0; rc == 0 && list && i < l->n; i++)
        json_array_append_new(list, json_pack("{s:s}", "id", l->ids[i]));
    free(l);
    if (rc != 0 || list == NULL) {
        json_decref(list);
        return rc ? rc : PV_ENOMEM;
    }
    *out = json_pack("{s:o}", "subjects", list);
    return *out ? 0 : PV_ENOMEM;
}

/* ---- assignment -------------------------------------------------------------------- */

struct assign {
    const char *subject, *user;
};

static int
apply_assign(struct pv_conn *w, void *arg)
{
    struct assign *as = arg;

    return pv_store_assign_put(w, as->subject, as->user, pv_now_ms());
}

int
pv_vault_assign(struct pv_vault *v, struct pv_call *call, const char *subject, const json_t *body,
                json_t **out)
{
    const char *provider = json_string_value(json_object_get(body, "provider"));
    struct pv_subject s;
    struct pv_access a;
    struct pv_user u;
    struct pv_conn *c;
    struct assign as = {subject, provider};
    int rc, ri;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if (provider == NULL || !pv_id_valid(provider, "usr") ||
        pv_store_user_get(c, provider, &u) != 0 || (ri = pv_policy_role(v->policy, u.role)) < 0 ||
        v->policy->roles[ri].scope != PV_SCOPE_ASSIGNED) {
        call->detail = "provider must be the id of a user whose role acts on assigned subjects";
        pv_strlcpy(call->field, "provider", sizeof call->field);
        return PV_EINVAL;
    }
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_ASSIGN;
    a.audit_action = "subject.assign";
    a.subject = subject;
    a.collection = -1;
    a.record = provider;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    if ((rc = pv_access(v, call, &a, apply_assign, &as, NULL)) != 0)
        return rc;
    *out = json_pack("{s:s, s:s}", "subject_id", subject, "provider", provider);
    return *out ? 0 : PV_ENOMEM;
}
