/*
 * sms.c: Twilio's inbound SMS webhook. STOP means stop.
 *
 * The signature is checked before anything else: HMAC-SHA1, keyed by the
 * account's auth token, over the webhook URL Twilio calls followed by every
 * parameter, sorted by name, as name then value; base64 in
 * X-Twilio-Signature. A bad or missing one is refused, audited, and changes
 * nothing. Then the message is a keyword from the table below (one word,
 * any case) or nothing at all:
 *  - STOP and its synonyms record the number's opt-out at once (a list by
 *    the number's keyed digest, so a number that belongs to nobody yet is
 *    stopped too) and withdraw every SMS consent of every subject with that
 *    number;
 *  - START and its synonyms undo what STOP did: the number's opt-out, and
 *    the SMS consents a keyword withdrew (not those withdrawn another way);
 *  - HELP and INFO answer with the policy's help text.
 * The reply (TwiML) and the work done (one audited transaction) are the
 * same whether or not the number belongs to anyone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vault/vault_int.h"

#define MAX_MATCHES 100

enum keyword { KW_NONE, KW_STOP, KW_START, KW_HELP };

static const struct {
    const char *word;
    enum keyword kind;
} keywords[] = {
    {"STOP", KW_STOP},    {"STOPALL", KW_STOP}, {"UNSUBSCRIBE", KW_STOP}, {"CANCEL", KW_STOP},
    {"END", KW_STOP},     {"QUIT", KW_STOP},    {"REVOKE", KW_STOP},      {"OPTOUT", KW_STOP},
    {"HELP", KW_HELP},    {"INFO", KW_HELP},    {"START", KW_START},      {"YES", KW_START},
    {"UNSTOP", KW_START},
};

static const char *const keyword_reasons[] = {
    [KW_NONE] = "no-keyword", [KW_STOP] = "stop", [KW_START] = "start", [KW_HELP] = "help"};

/* One word, any case, surrounding white space ignored. */
static enum keyword
classify(const char *body)
{
    const char *s = body, *e = body + strlen(body);

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    for (size_t i = 0; i < PV_ARRAY_LEN(keywords); i++)
        if (strlen(keywords[i].word) == (size_t)(e - s) &&
            strncasecmp(keywords[i].word, s, (size_t)(e - s)) == 0)
            return keywords[i].kind;
    return KW_NONE;
}

static int
param_cmp(const struct pv_form *f, int a, int b)
{
    int c = strcmp(f->params[a].key, f->params[b].key);

    return c ? c : strcmp(f->params[a].value, f->params[b].value);
}

int
pv_twilio_signature(const unsigned char *token, size_t toklen, const char *url,
                    const struct pv_form *f, char out[PV_TWILIO_SIG_CHARS])
{
    unsigned char mac[PV_SHA1_BYTES];
    int idx[PV_FORM_MAX_PARAMS], rc;
    struct pv_buf b;

    /* Insertion sort: a form has at most PV_FORM_MAX_PARAMS parameters. */
    for (int i = 0; i < f->n; i++) {
        int j = i;
        for (; j > 0 && param_cmp(f, idx[j - 1], i) > 0; j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
    }
    pv_buf_init(&b, (size_t)256 * 1024);
    rc = pv_buf_puts(&b, url);
    for (int i = 0; rc == 0 && i < f->n; i++) {
        rc = pv_buf_puts(&b, f->params[idx[i]].key);
        if (rc == 0)
            rc = pv_buf_puts(&b, f->params[idx[i]].value);
    }
    if (rc == 0) {
        pv_hmac_sha1(token, toklen, b.data, b.len, mac);
        rc = pv_base64_encode(mac, sizeof mac, 0, out, PV_TWILIO_SIG_CHARS);
    }
    if (b.data)
        pv_wipe(b.data, b.len);
    pv_buf_fini(&b);
    return rc;
}

/* TwiML: one message, or none. */
static int
twiml(struct pv_buf *out, const char *text)
{
    int rc = pv_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");

    if (text == NULL)
        return rc == 0 ? pv_buf_puts(out, "<Response/>\n") : rc;
    if (rc == 0)
        rc = pv_buf_puts(out, "<Response><Message>");
    if (rc == 0)
        rc = pv_buf_markup(out, text);
    return rc == 0 ? pv_buf_puts(out, "</Message></Response>\n") : rc;
}

struct matches {
    char ids[MAX_MATCHES][PV_ID_MAX];
    int n;
};

static int
match_cb(const char *subject, void *arg)
{
    struct matches *m = arg;

    if (m->n < MAX_MATCHES)
        pv_strlcpy(m->ids[m->n++], subject, PV_ID_MAX);
    return 0;
}

struct optout {
    unsigned char digest[PV_HASH_BYTES];
    int stopped, have_number;
};

static int
apply_optout(struct pv_conn *w, void *arg)
{
    struct optout *o = arg;

    return o->have_number ? pv_store_sms_optout_put(w, o->digest, o->stopped, pv_now_ms()) : 0;
}

/*
 * The ledger rows a keyword makes for the subjects with this number: STOP
 * withdraws every SMS consent held; START grants again those a keyword
 * withdrew.
 */
static int
keyword_rows(struct pv_vault *v, const struct matches *m, enum keyword kw,
             struct pv_consent_row *rows, int cap, int *n)
{
    const struct pv_policy *p = v->policy;
    char source[PV_SOURCE_MAX];
    int rc, granted, held;

    *n = 0;
    for (int i = 0; i < m->n; i++) {
        for (int k = 0; k < p->nconsents; k++) {
            if (p->consent_kinds[k].channel != PV_CH_SMS || *n == cap)
                continue;
            if ((rc = pv_consent_latest(v, m->ids[i], p->consents[k], &granted, source)) < 0)
                return rc;
            held = rc == 1 ? granted : p->consent_kinds[k].default_granted;
            if (kw == KW_STOP && held)
                pv_consent_row_init(v, &rows[(*n)++], m->ids[i], p->consents[k], 0, "sms", "sms");
            else if (kw == KW_START && rc == 1 && !granted && strcmp(source, "sms") == 0)
                pv_consent_row_init(v, &rows[(*n)++], m->ids[i], p->consents[k], 1, "sms", "sms");
        }
    }
    return 0;
}

int
pv_vault_sms_inbound(struct pv_vault *v, const struct pv_form *form, const char *signature,
                     struct pv_buf *out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_comms *cm = v->comms;
    const char *from, *body, *program = p->sms.program ? p->sms.program : p->org.name;
    char expected[PV_TWILIO_SIG_CHARS], norm[64], text[512];
    struct pv_consent_row *rows = NULL;
    unsigned char d[PV_HASH_BYTES];
    struct pv_audit_row lead;
    struct matches *m = NULL;
    struct optout oo;
    enum keyword kw;
    int rc, n = 0, nsms = 0;

    memset(&lead, 0, sizeof lead);
    lead.actor = "anonymous";
    lead.action = "sms.inbound";
    rc = cm->sms_configured ? pv_twilio_signature(cm->auth_token, cm->auth_token_len,
                                                  cm->webhook_url, form, expected)
                            : PV_EDENIED;
    if (rc != 0 || signature == NULL || strlen(signature) != strlen(expected) ||
        !pv_secret_equal(signature, expected, strlen(expected))) {
        lead.decision = "deny";
        lead.reason = cm->sms_configured ? "bad-signature" : "sms-not-configured";
        return pv_audit_commit(v->audit, &lead, 1, NULL, NULL) == 0 ? PV_EDENIED : PV_EAUDIT;
    }
    if ((from = pv_form_get(form, "From")) == NULL || (body = pv_form_get(form, "Body")) == NULL)
        return PV_EINVAL;
    kw = classify(body);
    lead.actor = "sms";
    lead.decision = "permit";
    lead.reason = keyword_reasons[kw];
    memset(&oo, 0, sizeof oo);
    oo.stopped = kw == KW_STOP;
    if (kw == KW_STOP || kw == KW_START) {
        if (pv_index_normalize("phone", from, norm, sizeof norm) == 0) {
            oo.have_number = 1;
            pv_keyring_blind(v->keys, "sms-number", norm, oo.digest);
        }
        m = calloc(1, sizeof *m);
        rc = m ? 0 : PV_ENOMEM;
        if (rc == 0 && oo.have_number && p->sms.phone_category >= 0) {
            const char *index = p->categories[p->sms.phone_category].key;
            struct pv_conn *c;
            pv_keyring_blind(v->keys, index, norm, d);
            if ((rc = pv_store_reader(v->store, &c)) == 0)
                rc = pv_store_index_find(c, index, d, match_cb, m);
        }
        /* At most one row per SMS kind of each subject with the number. */
        for (int k = 0; rc == 0 && k < p->nconsents; k++)
            nsms += p->consent_kinds[k].channel == PV_CH_SMS;
        if (rc == 0 && (rows = calloc((size_t)m->n * (size_t)nsms + 1, sizeof *rows)) == NULL)
            rc = PV_ENOMEM;
        if (rc == 0)
            rc = keyword_rows(v, m, kw, rows, m->n * nsms, &n);
        if (rc == 0)
            rc = pv_consent_direct(v, NULL, "sms", kw == KW_STOP ? "sms-stop" : "sms-start", rows,
                                   n, &lead, apply_optout, &oo);
        pv_wipe(norm, sizeof norm);
    } else {
        rc = pv_audit_commit(v->audit, &lead, 1, NULL, NULL) == 0 ? 0 : PV_EAUDIT;
    }
    free(m);
    if (rows)
        pv_wipe(rows, (size_t)(n + 1) * sizeof *rows);
    free(rows);
    if (rc != 0)
        return rc;
    switch (kw) {
    case KW_STOP:
        (void)snprintf(text, sizeof text,
                       "%s: you are unsubscribed and will receive no more messages. Reply START to "
                       "subscribe again.",
                       program);
        return twiml(out, text);
    case KW_START:
        (void)snprintf(text, sizeof text,
                       "%s: you are subscribed again. Reply HELP for help, STOP to unsubscribe.",
                       program);
        return twiml(out, text);
    case KW_HELP:
        if (p->sms.help)
            return twiml(out, p->sms.help);
        (void)snprintf(text, sizeof text, "%s: reply STOP to unsubscribe.", program);
        return twiml(out, text);
    default:
        return twiml(out, NULL);
    }
}
