/*
 * deletion.c: the right to delete, and a person deleting all of their
 * messages.
 *
 * A deletion request is carried out with the retention machinery, so it
 * keeps exactly what the law keeps and disposes of the rest the way the
 * policy says: the account is closed (decided as a close: the purpose must
 * cover the whole profile), every value whose category does not keep it
 * goes at once, purged or anonymized as its category says, and what is
 * left is named with the time it is kept until. When nothing is left the
 * person is erased: their data key is destroyed, so every copy of what was
 * sealed under it, backups included, can never be opened again.
 */
#include <string.h>

#include "vault/vault_int.h"

int
pv_rights_delete(struct pv_vault *v, struct pv_call *call, const struct pv_request *r,
                 json_t **result)
{
    const char *subject = r->subject_id;
    struct pv_sweep_report rep;
    struct pv_conn *c;
    json_t *closed = NULL, *kept;
    int64_t now = pv_now_ms(), closed_at = now, left;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((rc = pv_store_hold_active(c, subject, now)) == 0) {
        call->detail = "a legal hold keeps the person's data; deny the request or wait";
        return pv_access_reject(v, call, "request.complete", subject, "legal-hold", PV_ECONFLICT);
    }
    if (rc != PV_ENOTFOUND)
        return rc;
    /* Closing is a decision of its own; an account closed before (or by an earlier, interrupted
     * try of this very request) stays closed. */
    rc = pv_vault_close_account(v, call, subject, &closed);
    json_decref(closed);
    if (rc == PV_ECONFLICT && call->reason == NULL) {
        call->detail = NULL;
        rc = 0;
    }
    if (rc != 0)
        return rc;
    if ((rc = pv_retention_delete(v, subject, &rep)) != 0)
        return rc;
    if (rep.held > 0) {
        call->detail = "a legal hold was placed meanwhile; what it keeps was not disposed of";
        return pv_access_reject(v, call, "request.complete", subject, "legal-hold", PV_ECONFLICT);
    }
    rc = pv_store_closure_get(c, subject, &closed_at);
    if (rc != 0 && rc != PV_ENOTFOUND)
        return rc;
    if ((kept = json_object()) == NULL)
        return PV_ENOMEM;
    rc = pv_retention_kept(v, c, subject, closed_at, now, kept);
    if (rc == 0)
        rc = pv_store_subject_rows(c, subject, &left);
    if (rc == 0) {
        *result = json_pack(
            "{s:O, s:{s:I, s:I, s:I, s:I}, s:b}", "kept", json_object_get(kept, "kept"), "disposed",
            "records_purged", (json_int_t)rep.records_purged, "records_anonymized",
            (json_int_t)rep.records_anonymized, "fields_purged", (json_int_t)rep.fields_purged,
            "usage_purged", (json_int_t)rep.usage_purged, "erased", left == 0);
        if (*result == NULL)
            rc = PV_ENOMEM;
    }
    json_decref(kept);
    return rc;
}

/* ---- all of a person's messages ---------------------------------------------------------- */

struct delete_all {
    const char *subject, *collection;
    int64_t n;
};

static int
apply_delete_all(struct pv_conn *w, void *arg)
{
    struct delete_all *da = arg;

    return pv_store_records_delete_all(w, da->subject, da->collection, &da->n);
}

int
pv_vault_records_delete_all(struct pv_vault *v, struct pv_call *call, const char *subject,
                            const char *collection, json_t **out)
{
    struct delete_all da = {subject, collection, 0};
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    int ci = pv_policy_collection(v->policy, collection), rc;

    if (ci < 0) {
        call->detail = "the policy declares no such collection";
        return pv_access_reject(v, call, "record.delete_all", subject, "unknown-collection",
                                PV_ENOTFOUND);
    }
    if (ci == v->policy->usage) {
        call->detail = "usage data is kept apart: retention disposes of it";
        return pv_access_reject(v, call, "record.delete_all", subject, "usage-collection",
                                PV_ECONFLICT);
    }
    if (ci == v->profile) {
        call->detail = "the profile goes with the subject, through a deletion request";
        return PV_ECONFLICT;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_DELETE;
    a.audit_action = "record.delete_all";
    a.subject = subject;
    a.collection = ci;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    if ((rc = pv_access(v, call, &a, apply_delete_all, &da, NULL)) != 0)
        return rc;
    if (da.n > 0)
        pv_vault_scrub(v); /* gone from the write-ahead log too, before the answer */
    *out = json_pack("{s:s, s:s, s:I}", "subject_id", subject, "collection", collection, "deleted",
                     (json_int_t)da.n);
    return *out ? 0 : PV_ENOMEM;
}
