/*
 * h_consent.c: the consent ledger, cookie choices, policy status and
 * notices, the contact and disclosure checks, unsubscribe links, the SMS
 * webhook and GPC's well-known file: thin adapters to the vault.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int
pv_h_consent_list(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_consent_list(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_consent_record(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_consent_record(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_cookies_get(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_cookies_get(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_cookies_set(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_cookies_set(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_policy_status(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_policy_status(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_policy_notice(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_policy_notice(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_contact_check(struct pv_req *r, struct pv_resp *out)
{
    const char *purpose = pv_req_arg(r, "purpose"), *channel = pv_req_arg(r, "channel");

    /* The message's purpose is the purpose of the use checked; X-Purpose may repeat it. */
    if (purpose && r->call.purpose && strcmp(purpose, r->call.purpose) != 0) {
        r->call.detail = "the purpose argument and X-Purpose name different purposes";
        pv_strlcpy(r->call.field, "purpose", sizeof r->call.field);
        return PV_EINVAL;
    }
    if (purpose)
        r->call.purpose = purpose;
    if (channel == NULL) {
        r->call.detail = "channel must be sms, email, phone or mail";
        pv_strlcpy(r->call.field, "channel", sizeof r->call.field);
        return PV_EINVAL;
    }
    return pv_vault_contact_check(r->v, &r->call, r->params[0], channel, &out->body);
}

int
pv_h_contact_prefs_get(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_contact_prefs_get(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_contact_prefs_set(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_contact_prefs_set(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_disclosure_check(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_disclosure_check(r->v, &r->call, r->params[0], pv_req_arg(r, "recipient"),
                                     pv_req_arg(r, "collection"), pv_req_arg(r, "fields"),
                                     pv_req_arg(r, "consents"), &out->body);
}

static int
html_page(struct pv_resp *out, const char *title, const char *org, const char *what,
          const char *form_action)
{
    struct pv_buf b;
    int rc;

    pv_buf_init(&b, (size_t)16 * 1024);
    rc = pv_buf_puts(&b, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    if (rc == 0)
        rc = pv_buf_markup(&b, title);
    if (rc == 0)
        rc = pv_buf_puts(&b, "</title><h1>");
    if (rc == 0)
        rc = pv_buf_markup(&b, org);
    if (rc == 0)
        rc = pv_buf_puts(&b, "</h1><p>");
    if (rc == 0)
        rc = pv_buf_markup(&b, what);
    if (rc == 0)
        rc = pv_buf_puts(&b, "</p>");
    /* A browser's GET never unsubscribes (link scanners fetch links): the button posts. */
    if (rc == 0 && form_action)
        rc = pv_buf_printf(&b,
                           "<form method=\"post\" action=\"%s\"><input type=\"hidden\" "
                           "name=\"List-Unsubscribe\" value=\"One-Click\"><button>Unsubscribe"
                           "</button></form>",
                           form_action);
    if (rc == 0)
        rc = pv_buf_puts(&b, "</html>\n");
    if (rc != 0) {
        pv_buf_fini(&b);
        return rc;
    }
    out->text = b.data;
    out->content_type = "text/html; charset=utf-8";
    return 0;
}

int
pv_h_unsubscribe_page(struct pv_req *r, struct pv_resp *out)
{
    const char *what;
    char action[128];
    json_t *j = NULL;
    int rc;

    if ((rc = pv_vault_unsubscribe_peek(r->v, r->params[0], &j)) != 0) {
        r->call.detail = "this unsubscribe link is not valid";
        return rc;
    }
    what = json_string_value(json_object_get(j, "description"));
    /* The token is base64url (checked by the vault): safe in an attribute as it is. */
    (void)snprintf(action, sizeof action, "/v1/unsubscribe/%s", r->params[0]);
    rc = html_page(out, "Unsubscribe", json_string_value(json_object_get(j, "organization")),
                   what ? what : json_string_value(json_object_get(j, "kind")), action);
    json_decref(j);
    return rc;
}

int
pv_h_unsubscribe(struct pv_req *r, struct pv_resp *out)
{
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    json_t *j = NULL;
    int rc;

    if ((rc = pv_vault_unsubscribe(r->v, r->params[0], &j)) != 0) {
        r->call.detail = "this unsubscribe link is not valid";
        return rc;
    }
    if (accept && strstr(accept, "text/html")) {
        rc = html_page(out, "Unsubscribed", json_string_value(json_object_get(j, "organization")),
                       "You are unsubscribed. Account and service messages still reach you.", NULL);
        json_decref(j);
        return rc;
    }
    out->body = j;
    return 0;
}

int
pv_h_sms_inbound(struct pv_req *r, struct pv_resp *out)
{
    const char *sig = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Twilio-Signature");
    struct pv_buf b;
    int rc;

    pv_buf_init(&b, (size_t)8 * 1024);
    rc = pv_vault_sms_inbound(r->v, &r->form, sig, &b);
    if (rc == PV_EDENIED)
        r->call.reason = "bad-signature";
    else if (rc == PV_EINVAL)
        r->call.detail = "an inbound message has From and Body";
    if (rc != 0) {
        pv_buf_fini(&b);
        return rc;
    }
    out->text = b.data;
    out->content_type = "application/xml";
    return 0;
}

int
pv_h_gpc_json(struct pv_req *r, struct pv_resp *out)
{
    /* https://privacycg.github.io/gpc-spec/: this site honors the signal. */
    out->body = json_pack("{s:b, s:s}", "gpc", 1, "lastUpdate", pv_vault_policy(r->v)->effective);
    return out->body ? 0 : PV_ENOMEM;
}

void
pv_h_policy_consent_json(const struct pv_policy *p, json_t *j)
{
    json_t *kinds = json_object(), *channels = json_array(), *comms;

    for (int k = 0; kinds && k < p->nconsents; k++) {
        const struct pv_consent_kind *kd = &p->consent_kinds[k];
        json_t *e =
            json_pack("{s:s, s:s, s:s*, s:s*, s:s*}", "type", pv_consent_type_name(kd->type),
                      "default", kd->default_granted ? "granted" : "withdrawn", "channel",
                      kd->channel >= 0 ? pv_channel_name(kd->channel) : NULL, "cookie", kd->cookie,
                      "description", kd->description);
        if (e && kd->nauthorizes > 0) {
            json_t *a = json_array();
            for (int i = 0; a && i < kd->nauthorizes; i++)
                json_array_append_new(a, json_string(p->purposes[kd->authorizes[i]].key));
            json_object_set_new(e, "authorizes", a);
        }
        json_object_set_new(kinds, kd->name, e);
    }
    json_object_set_new(j, "consent_kinds", kinds);
    for (int c = 0; channels && c < PV_CH_COUNT_; c++)
        if (p->channels & (1u << c))
            json_array_append_new(channels, json_string(pv_channel_name(c)));
    if ((comms = json_object_get(j, "communications")) == NULL) {
        comms = json_object();
        json_object_set_new(j, "communications", comms);
    }
    if (comms)
        json_object_set_new(comms, "channels", channels);
    else
        json_decref(channels);
    json_object_set_new(j, "change",
                        json_pack("{s:b, s:i, s:s*}", "material", p->change.material, "notice_days",
                                  p->change.notice_days, "summary", p->change.summary));
}
