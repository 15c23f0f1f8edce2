/*
 * holds.c: legal holds. A hold keeps all of a subject's data past its
 * retention (the sweep skips the subject) and blocks deletion (the decision
 * refuses it) until it is released or its end date passes. Its reason may
 * name people or cases, so it is sealed under the subject's key like their
 * data; who placed it and when are kept in the clear.
 */
#include <string.h>

#include "vault/vault_int.h"

#define DAY_MS INT64_C(86400000)

static json_t *
hold_json(struct pv_vault *v, const struct pv_hold *h, const struct pv_dkey *dk, int64_t now)
{
    struct pv_seal_ad ad = {h->subject_id, h->id, "reason"};
    unsigned char reason[PV_HOLD_REASON_SEALED_MAX + 1];
    char until[21];
    size_t n;
    json_t *j;

    if (dk == NULL || pv_unseal(dk, &ad, h->reason, h->reason_len, reason, sizeof reason, &n) != 0)
        return NULL;
    if (h->until) {
        /* Kept as the end of the last day held; shown as that day. */
        pv_time_format((h->until - DAY_MS) / 1000, until);
        until[10] = '\0';
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:o, s:s?, s:b}", "id", h->id, "subject_id",
                  h->subject_id, "reason", (const char *)reason, "placed_by", h->placed_by,
                  "placed_at", pv_json_time(h->placed_at), "until", h->until ? until : NULL,
                  "released_at", h->released_at ? pv_json_time(h->released_at) : json_null(),
                  "released_by", h->released_at ? h->released_by : NULL, "in_force",
                  h->released_at == 0 && (h->until == 0 || h->until > now));
    pv_wipe(reason, sizeof reason);
    return j;
}

static int
subject_exists(struct pv_conn *c, const char *id)
{
    struct pv_subject s;

    /* An erased subject is gone: nothing of theirs is left to hold. */
    return pv_id_valid(id, "sub") && pv_store_subject_get(c, id, &s) == 0 &&
           strcmp(s.status, "erased") != 0;
}

static int
apply_place(struct pv_conn *w, void *arg)
{
    return pv_store_hold_put(w, arg);
}

int
pv_vault_hold_place(struct pv_vault *v, struct pv_call *call, const char *subject,
                    const json_t *body, json_t **out)
{
    const char *reason = json_string_value(json_object_get(body, "reason"));
    const json_t *uj = json_object_get(body, "until");
    struct pv_seal_ad ad;
    struct pv_access a;
    struct pv_hold h;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc, exists, y, m, d;

    memset(&h, 0, sizeof h);
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > PV_HOLD_REASON_MAX) {
        call->detail = "reason must be a text of 1 to 500 characters";
        pv_strlcpy(call->field, "reason", sizeof call->field);
        return PV_EINVAL;
    }
    if (uj && !json_is_null(uj)) {
        if (!json_is_string(uj) || pv_date_parse(json_string_value(uj), &y, &m, &d) != 0 ||
            (h.until = (pv_days_from_civil(y, m, d) + 1) * DAY_MS) <= pv_now_ms()) {
            call->detail = "until must be a future date YYYY-MM-DD, or null for until released";
            pv_strlcpy(call->field, "until", sizeof call->field);
            return PV_EINVAL;
        }
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    exists = subject_exists(c, subject);
    pv_id_new("hld", h.id);
    pv_strlcpy(h.subject_id, subject, sizeof h.subject_id);
    pv_strlcpy(h.placed_by, call->actor ? call->actor->user_id : "", sizeof h.placed_by);
    h.placed_at = pv_now_ms();
    memset(&dk, 0, sizeof dk);
    if (exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        ad.subject = subject;
        ad.record = h.id;
        ad.field = "reason";
        rc = pv_seal(&dk, &ad, reason, strlen(reason), h.reason, sizeof h.reason, &h.reason_len);
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_HOLD;
        a.audit_action = "hold.place";
        a.subject = subject;
        a.collection = -1;
        a.record = h.id;
        a.subject_exists = exists;
        rc = pv_access(v, call, &a, apply_place, &h, NULL);
    }
    if (rc == 0 && (*out = hold_json(v, &h, &dk, h.placed_at)) == NULL)
        rc = PV_ENOMEM;
    pv_dkey_wipe(&dk);
    return rc;
}

struct list_ctx {
    struct pv_vault *v;
    const struct pv_dkey *dk;
    int64_t now;
    json_t *list;
};

static int
list_cb(const struct pv_hold *h, void *arg)
{
    struct list_ctx *l = arg;
    json_t *j = hold_json(l->v, h, l->dk, l->now);

    return j && json_array_append_new(l->list, j) == 0 ? 0 : PV_ESTORE;
}

int
pv_vault_hold_list(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    struct list_ctx l = {v, NULL, pv_now_ms(), NULL};
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_HOLD;
    a.audit_action = "hold.list";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = subject_exists(c, subject);
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    if ((rc = pv_vault_subject_key(v, c, subject, &dk)) != 0)
        return rc;
    l.dk = &dk;
    l.list = json_array();
    rc = l.list ? pv_store_hold_list(c, subject, list_cb, &l) : PV_ENOMEM;
    pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(l.list);
        return rc;
    }
    *out = json_pack("{s:o}", "holds", l.list);
    return *out ? 0 : PV_ENOMEM;
}

struct release {
    const char *subject, *hold, *by;
    int64_t now;
};

static int
apply_release(struct pv_conn *w, void *arg)
{
    struct release *r = arg;

    return pv_store_hold_release(w, r->subject, r->hold, r->by, r->now);
}

int
pv_vault_hold_release(struct pv_vault *v, struct pv_call *call, const char *subject,
                      const char *hold, json_t **out)
{
    struct release r = {subject, hold, call->actor ? call->actor->user_id : "", pv_now_ms()};
    struct pv_access a;
    struct pv_hold h;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_HOLD;
    a.audit_action = "hold.release";
    a.subject = subject;
    a.collection = -1;
    a.record = hold;
    a.subject_exists = subject_exists(c, subject);
    rc = pv_access(v, call, &a, apply_release, &r, NULL);
    if (rc == PV_ENOTFOUND && call->reason == NULL)
        call->detail = "the subject has no hold in force with this id";
    if (rc != 0)
        return rc;
    if ((rc = pv_store_hold_get(c, subject, hold, &h)) != 0 ||
        (rc = pv_vault_subject_key(v, c, subject, &dk)) != 0)
        return rc;
    *out = hold_json(v, &h, &dk, r.now);
    pv_dkey_wipe(&dk);
    return *out ? 0 : PV_ENOMEM;
}
