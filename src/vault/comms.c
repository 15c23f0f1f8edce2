/*
 * comms.c: may we contact this person, this way, for this purpose?
 *
 * The answer is a decision (action contact) over facts gathered here: the
 * person's confidential-communications choice (channels they allow, and
 * addresses of their own), whether anything on file reaches them on the
 * channel, whether the number texted STOP, and their restriction; the
 * decision adds the consent ledger and the policy. Reasons that describe
 * the person's situation are answers (200, allowed: false); reasons about
 * the asker (role, scope, purpose) stay errors.
 *
 * Also here: the disclosure check, and signed one-click unsubscribe links
 * (RFC 8058), whose key is derived from the keyring and never stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vault/vault_int.h"

#define TWILIO_CONF "twilio.conf"
#define TWILIO_CONF_MAX 4096
#define ADDRESS_MAX 256
#define PORTAL_BIT (1u << PV_CH_COUNT_) /* a secure portal: none of the four channels */

/* Twilio's file: "auth_token TOKEN" and "webhook_url URL", one per line. */
static int
parse_twilio(char *text, struct pv_comms *cm)
{
    char *line = text, *next;
    int have_token = 0, have_url = 0;

    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "auth_token ", 11) == 0) {
            size_t n = strlen(line + 11);
            if (n == 0 || n > sizeof cm->auth_token)
                return PV_EINVAL;
            memcpy(cm->auth_token, line + 11, n);
            cm->auth_token_len = n;
            have_token = 1;
        } else if (strncmp(line, "webhook_url ", 12) == 0) {
            if (pv_strlcpy(cm->webhook_url, line + 12, sizeof cm->webhook_url) != 0 ||
                cm->webhook_url[0] == '\0')
                return PV_EINVAL;
            have_url = 1;
        } else if (*line != '\0' && *line != '#') {
            return PV_EINVAL;
        }
    }
    return have_token && have_url ? 0 : PV_EINVAL;
}

int
pv_comms_open(struct pv_vault *v, struct pv_buf *errors)
{
    struct pv_comms *cm = sodium_malloc(sizeof *cm);
    unsigned char *text = sodium_malloc(TWILIO_CONF_MAX + 1);
    char path[1100];
    struct stat sb;
    size_t len;
    int rc = 0;

    if (cm == NULL || text == NULL) {
        sodium_free(cm);
        sodium_free(text);
        return PV_ENOMEM;
    }
    memset(cm, 0, sizeof *cm);
    pv_keyring_derive(v->keys, "unsubscribe-link-1", cm->unsub_key);
    (void)snprintf(path, sizeof path, "%s/%s", v->dir, TWILIO_CONF);
    if (stat(path, &sb) == 0) {
        rc = pv_secret_file_read(path, text, TWILIO_CONF_MAX, &len);
        if (rc == 0) {
            text[len] = '\0';
            rc = parse_twilio((char *)text, cm);
        }
        if (rc != 0 && errors)
            pv_buf_printf(errors,
                          "%s: cannot use the SMS webhook configuration (%s); write it again "
                          "with phivault sms setup\n",
                          path, pv_strerror(rc));
        cm->sms_configured = rc == 0;
    }
    sodium_free(text);
    if (rc != 0) {
        sodium_free(cm);
        return rc;
    }
    pv_log(PV_LOG_INFO, "sms.webhook", "configured", cm->sms_configured ? "yes" : "no",
           (char *)NULL);
    sodium_mprotect_readonly(cm);
    v->comms = cm;
    return 0;
}

void
pv_comms_close(struct pv_comms *cm)
{
    sodium_free(cm);
}

int
pv_vault_sms_setup(const char *dir, const char *auth_token, const char *webhook_url)
{
    char path[1100], tmp[1110];
    struct pv_buf b;
    int rc;

    if (auth_token[0] == '\0' || strlen(auth_token) > 255 || strchr(auth_token, '\n') ||
        strchr(auth_token, ' ') || webhook_url[0] == '\0' || strlen(webhook_url) > 1000 ||
        strchr(webhook_url, '\n') ||
        (strncmp(webhook_url, "https://", 8) != 0 && strncmp(webhook_url, "http://", 7) != 0))
        return PV_EINVAL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, TWILIO_CONF) >= sizeof path)
        return PV_EINVAL;
    (void)snprintf(tmp, sizeof tmp, "%s.new", path);
    pv_buf_init(&b, TWILIO_CONF_MAX);
    rc = pv_buf_printf(&b, "auth_token %s\nwebhook_url %s\n", auth_token, webhook_url);
    unlink(tmp);
    if (rc == 0)
        rc = pv_secret_file_write(tmp, b.data, b.len);
    /* Replaced at once or not at all: a half-written secret never serves. */
    if (rc == 0 && rename(tmp, path) != 0)
        rc = PV_EIO;
    if (rc != 0)
        unlink(tmp);
    if (b.data)
        pv_wipe(b.data, b.len);
    pv_buf_fini(&b);
    return rc;
}

/* ---- what is on file ---------------------------------------------------------- */

/* What reaches a subject: their profile record and their confidential-communications choice. */
struct onfile {
    struct pv_subject s;
    int exists;
    struct pv_record prof;
    struct pv_contact_prefs prefs;
    int have_prefs;
    json_t *addresses; /* unsealed {channel: address}, or NULL */
    struct pv_dkey dk;
    int have_key;
};

static int
first_profile(const struct pv_record *r, void *arg)
{
    struct pv_record *out = arg;

    memcpy(out->id, r->id, sizeof out->id);
    pv_buf_reset(&out->body);
    return pv_buf_append(&out->body, r->body.data, r->body.len) == 0 ? 1 : PV_ENOMEM;
}

static void
onfile_fini(struct onfile *o)
{
    pv_buf_fini(&o->prof.body);
    json_decref(o->addresses);
    if (o->have_key)
        pv_dkey_wipe(&o->dk);
}

static int
onfile_load(struct pv_vault *v, struct pv_conn *c, const char *subject, struct onfile *o)
{
    struct pv_seal_ad ad = {subject, "contact-prefs", "addresses"};
    unsigned char pt[PV_PREFS_SEALED_MAX];
    json_error_t jerr;
    size_t n;
    int rc;

    memset(o, 0, sizeof *o);
    pv_buf_init(&o->prof.body, PV_RECORD_BODY_MAX);
    o->exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &o->s) == 0;
    if (!o->exists)
        return 0;
    if ((rc = pv_vault_subject_key(v, c, subject, &o->dk)) != 0)
        return rc;
    o->have_key = 1;
    rc = pv_store_record_list(c, subject, "profile", NULL, 1, first_profile, &o->prof);
    if (rc < 0)
        return rc;
    rc = pv_store_contact_prefs_get(c, subject, &o->prefs);
    if (rc == PV_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    o->have_prefs = 1;
    if (o->prefs.addresses_len > 0) {
        rc = pv_unseal(&o->dk, &ad, o->prefs.addresses, o->prefs.addresses_len, pt, sizeof pt, &n);
        if (rc == 0 && (o->addresses = json_loadb((const char *)pt, n, 0, &jerr)) == NULL)
            rc = PV_ESTORE;
        pv_wipe(pt, sizeof pt);
    }
    return rc;
}

/* Profile fields whose category lies under key (or the SMS number's field, for sms). */
static uint64_t
channel_fields(const struct pv_vault *v, int ch)
{
    static const char *const keys[PV_CH_COUNT_] = {
        [PV_CH_EMAIL] = "user.contact.email",
        [PV_CH_SMS] = NULL,
        [PV_CH_PHONE] = "user.contact.phone_number",
        [PV_CH_MAIL] = "user.contact.address",
    };
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[v->profile];
    uint64_t m = 0;

    if (ch == PV_CH_SMS)
        return p->sms.phone_field >= 0 ? UINT64_C(1) << p->sms.phone_field : 0;
    for (int i = 0; i < col->nfields; i++)
        if (pv_category_covers(keys[ch], p->categories[col->fields[i].category].key))
            m |= UINT64_C(1) << i;
    return m;
}

/* The confidential address the person gave for channel ch, or NULL. */
static const char *
own_address(const struct onfile *o, int ch)
{
    return o->addresses ? json_string_value(json_object_get(o->addresses, pv_channel_name(ch)))
                        : NULL;
}

/* The value of a profile field, opened (a new JSON value) or NULL if absent. */
static json_t *
profile_value(struct pv_vault *v, const char *subject, struct onfile *o, int field)
{
    const char *name = v->policy->collections[v->profile].fields[field].name;
    struct pv_seal_ad ad = {subject, o->prof.id, name};
    const unsigned char *sealed;
    unsigned char *pt;
    json_error_t jerr;
    json_t *value = NULL;
    size_t n, len;

    if (pv_body_find(&o->prof.body, name, &sealed, &len) != 0 || (pt = malloc(len)) == NULL)
        return NULL;
    if (pv_unseal(&o->dk, &ad, sealed, len, pt, len, &n) == 0)
        value = json_loadb((const char *)pt, n, JSON_DECODE_ANY, &jerr);
    pv_wipe(pt, len);
    free(pt);
    return value;
}

/* The number texts to the subject would go to: their own for SMS, else the profile's. */
static int
sms_number_stopped(struct pv_vault *v, struct pv_conn *c, const char *subject, struct onfile *o,
                   int *stopped)
{
    const char *own = own_address(o, PV_CH_SMS);
    unsigned char d[PV_HASH_BYTES];
    json_t *value = NULL;
    char norm[64];
    int rc = 0;

    *stopped = 0;
    if (own == NULL && v->policy->sms.phone_field >= 0)
        value = profile_value(v, subject, o, v->policy->sms.phone_field);
    if (own == NULL && json_string_value(value) == NULL) {
        json_decref(value);
        return 0;
    }
    if (pv_index_normalize("phone", own ? own : json_string_value(value), norm, sizeof norm) == 0) {
        pv_keyring_blind(v->keys, "sms-number", norm, d);
        rc = pv_store_sms_optout_get(c, d, stopped);
    }
    pv_wipe(norm, sizeof norm);
    json_decref(value);
    return rc;
}

/* Whether reason is one of the answers (not an error) of a check. */
static int
is_answer(const char *reason, const char *const *answers, size_t n)
{
    for (size_t i = 0; reason && i < n; i++)
        if (strcmp(reason, answers[i]) == 0)
            return 1;
    return 0;
}

/* ---- unsubscribe links ----------------------------------------------------------- */

#define TOKEN_BYTES (1 + 16 + 8 + PV_MAC_BYTES)
#define TOKEN_CHARS 64

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* The 128 random bits of a subject id, read back from its base32 form. */
static int
id_bits(const char *id, unsigned char out[16])
{
    unsigned acc = 0;
    size_t o = 0;
    int bits = 0;

    if (!pv_id_valid(id, "sub"))
        return PV_EINVAL;
    for (const char *s = id + 4; *s; s++) {
        acc = (acc << 5) | (unsigned)(strchr(b32, *s) - b32);
        bits += 5;
        if (bits >= 8) {
            if (o < 16)
                out[o++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
            acc &= (1u << bits) - 1;
        }
    }
    return o == 16 ? 0 : PV_EINVAL;
}

/* The id of 128 bits, as pv_id_new() writes it. */
static void
id_of_bits(const unsigned char in[16], char out[PV_ID_MAX])
{
    unsigned acc = 0;
    int bits = 0;
    char *p = out + 4;

    memcpy(out, "sub_", 4); /* NOLINT(bugprone-not-null-terminated-result): id follows */
    for (int i = 0; i < 17 && p < out + 30; i++) {
        acc = (acc << 8) | (i < 16 ? in[i] : 0);
        bits += 8;
        while (bits >= 5 && p < out + 30) {
            *p++ = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
        acc &= (1u << bits) - 1;
    }
    *p = '\0';
}

static void
kind_tag(const char *kind, unsigned char out[8])
{
    unsigned char h[PV_HASH_BYTES];

    pv_hash(kind, strlen(kind), h);
    memcpy(out, h, 8);
}

/*
 * A token is version 1, the subject's id bits, 8 bytes naming the consent
 * kind, and a MAC over them: 41 bytes, 55 characters of base64url. Anyone
 * holding it can withdraw that one consent of that one person, which is
 * what a link in their mailbox is for; nobody can make or alter one.
 */
static int
token_make(struct pv_vault *v, const char *subject, const char *kind, char out[TOKEN_CHARS])
{
    unsigned char t[TOKEN_BYTES];
    int rc;

    t[0] = 1;
    if ((rc = id_bits(subject, t + 1)) != 0)
        return rc;
    kind_tag(kind, t + 17);
    pv_mac(v->comms->unsub_key, t, TOKEN_BYTES - PV_MAC_BYTES, t + TOKEN_BYTES - PV_MAC_BYTES);
    return pv_base64_encode(t, sizeof t, 1, out, TOKEN_CHARS);
}

static int
token_open(struct pv_vault *v, const char *token, char subject[PV_ID_MAX], int *kind)
{
    const struct pv_policy *p = v->policy;
    unsigned char t[TOKEN_BYTES + 1], mac[PV_MAC_BYTES], tag[8];
    size_t n;

    if (strlen(token) >= TOKEN_CHARS || pv_base64_decode(token, 1, t, sizeof t, &n) != 0 ||
        n != TOKEN_BYTES || t[0] != 1)
        return PV_ENOTFOUND;
    pv_mac(v->comms->unsub_key, t, TOKEN_BYTES - PV_MAC_BYTES, mac);
    if (!pv_secret_equal(mac, t + TOKEN_BYTES - PV_MAC_BYTES, PV_MAC_BYTES))
        return PV_ENOTFOUND;
    id_of_bits(t + 1, subject);
    for (int k = 0; k < p->nconsents; k++) {
        kind_tag(p->consents[k], tag);
        if (memcmp(tag, t + 17, 8) == 0) {
            *kind = k;
            return 0;
        }
    }
    return PV_ENOTFOUND; /* a kind the policy no longer declares */
}

int
pv_vault_unsubscribe_peek(struct pv_vault *v, const char *token, json_t **out)
{
    const struct pv_policy *p = v->policy;
    char subject[PV_ID_MAX];
    int kind, rc;

    if ((rc = token_open(v, token, subject, &kind)) != 0)
        return rc;
    *out = json_pack("{s:s, s:s?, s:s, s:s?}", "kind", p->consents[kind], "description",
                     p->consent_kinds[kind].description, "organization", p->org.name, "channel",
                     p->consent_kinds[kind].channel >= 0
                         ? pv_channel_name(p->consent_kinds[kind].channel)
                         : NULL);
    return *out ? 0 : PV_ENOMEM;
}

int
pv_vault_unsubscribe(struct pv_vault *v, const char *token, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct pv_consent_row *row;
    struct pv_audit_row lead;
    char subject[PV_ID_MAX];
    int kind, rc, granted, withdrawn;

    memset(&lead, 0, sizeof lead);
    lead.actor = "anonymous";
    lead.action = "consent.unsubscribe";
    if (token_open(v, token, subject, &kind) != 0) {
        /* A forged or altered link changes nothing, and the attempt is on record. */
        lead.decision = "deny";
        lead.reason = "bad-token";
        return pv_audit_commit(v->audit, &lead, 1, NULL, NULL) == 0 ? PV_ENOTFOUND : PV_EAUDIT;
    }
    rc = pv_consent_latest(v, subject, p->consents[kind], &granted, NULL);
    if (rc < 0)
        return rc;
    withdrawn = rc == 1 ? !granted : !p->consent_kinds[kind].default_granted;
    lead.actor = "link";
    lead.subject = subject;
    lead.collection = p->consents[kind];
    lead.decision = "permit";
    if (withdrawn) {
        /* Idempotent: a second click (or a replay) finds it withdrawn and records no change. */
        lead.reason = "already-withdrawn";
        rc = pv_audit_commit(v->audit, &lead, 1, NULL, NULL) == 0 ? 0 : PV_EAUDIT;
    } else {
        if ((row = malloc(sizeof *row)) == NULL)
            return PV_ENOMEM;
        pv_consent_row_init(v, row, subject, p->consents[kind], 0, "link", "link");
        rc = pv_consent_direct(v, NULL, "link", "unsubscribe-link", row, 1, NULL, NULL, NULL);
        free(row);
    }
    if (rc == 0) {
        *out = json_pack("{s:b, s:s, s:s}", "unsubscribed", 1, "kind", p->consents[kind],
                         "organization", p->org.name);
        if (*out == NULL)
            rc = PV_ENOMEM;
    }
    return rc;
}

/* ---- contact check ------------------------------------------------------------------ */

static const char *const contact_answers[] = {
    "consent-required",
    "channel-consent-required",
    "sms-stopped",
    "no-address",
    "confidential-communications",
    "subject-restricted",
    "channel-not-offered",
    "pending-policy-change",
    "marketing-needs-authorization",
    "authorization-required",
    "sale-opted-out",
};

/* The link that withdraws the marketing consent that let this email go out. */
static json_t *
unsubscribe_json(struct pv_vault *v, const char *subject)
{
    const struct pv_policy *p = v->policy;
    char token[TOKEN_CHARS], path[128];
    uint64_t held;

    if (pv_consent_facts(v, p, subject, &held) != 0)
        return NULL;
    for (int k = 0; k < p->nconsents; k++) {
        const struct pv_consent_kind *kd = &p->consent_kinds[k];
        if (kd->type != PV_CONSENT_MARKETING || kd->channel != PV_CH_EMAIL || !((held >> k) & 1))
            continue;
        if (token_make(v, subject, kd->name, token) != 0)
            return NULL;
        (void)snprintf(path, sizeof path, "/v1/unsubscribe/%s", token);
        return json_pack("{s:s, s:s, s:s, s:{s:s}}", "kind", kd->name, "token", token, "path", path,
                         "headers", "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
    return NULL;
}

int
pv_vault_contact_check(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const char *channel, json_t **out)
{
    int ch = pv_channel_parse(channel), rc, allowed, purpose;
    struct pv_facts f;
    struct pv_access a;
    struct onfile *o;
    struct pv_conn *c;
    const char *reason = "permit";
    json_t *j;

    if (ch == PV_CH_NONE) {
        call->detail = "channel must be sms, email, phone or mail";
        pv_strlcpy(call->field, "channel", sizeof call->field);
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((o = malloc(sizeof *o)) == NULL)
        return PV_ENOMEM;
    memset(&f, 0, sizeof f);
    f.channel = ch;
    f.recipient = -1;
    rc = onfile_load(v, c, subject, o);
    if (rc == 0 && o->exists) {
        uint64_t fields = channel_fields(v, ch);
        f.restricted = strcmp(o->s.status, "active") != 0;
        f.channels_allowed = o->have_prefs ? o->prefs.channels : 0;
        f.has_address = own_address(o, ch) != NULL;
        for (int i = 0; !f.has_address && i < PV_MAX_FIELDS; i++) {
            const unsigned char *s;
            size_t n;
            if ((fields >> i) & 1)
                f.has_address =
                    pv_body_find(&o->prof.body, v->policy->collections[v->profile].fields[i].name,
                                 &s, &n) == 0;
        }
        if (ch == PV_CH_SMS)
            rc = sms_number_stopped(v, c, subject, o, &f.number_opted_out);
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_CONTACT;
        a.audit_action = "contact.check";
        a.subject = subject;
        a.collection = -1;
        a.audit_collection = pv_channel_name(ch);
        a.subject_exists = o->exists;
        a.more = &f;
        rc = pv_access(v, call, &a, NULL, NULL, NULL);
    }
    allowed = rc == 0;
    if (rc == PV_EDENIED && !o->exists &&
        is_answer(call->reason, contact_answers, PV_ARRAY_LEN(contact_answers))) {
        /* Answers describe a person; with no such person the asker learns just that. */
        call->reason = "no-such-subject";
        rc = PV_ENOTFOUND;
    }
    if (rc == PV_EDENIED &&
        is_answer(call->reason, contact_answers, PV_ARRAY_LEN(contact_answers))) {
        reason = call->reason;
        call->reason = NULL;
        rc = 0;
    }
    if (rc == 0) {
        purpose = pv_policy_purpose(v->policy, call->purpose);
        j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "subject_id", subject, "channel",
                      pv_channel_name(ch), "purpose", v->policy->purposes[purpose].key, "allowed",
                      allowed, "reason", reason);
        if (j && allowed)
            json_object_set_new(j, "to",
                                json_string(own_address(o, ch) ? "confidential" : "profile"));
        if (j && allowed && ch == PV_CH_EMAIL && v->policy->purposes[purpose].marketing) {
            json_t *u = unsubscribe_json(v, subject);
            if (u)
                json_object_set_new(j, "unsubscribe", u);
        }
        if ((*out = j) == NULL)
            rc = PV_ENOMEM;
    }
    onfile_fini(o);
    free(o);
    return rc;
}

/* ---- confidential communications ----------------------------------------------------- */

static const char *const pref_channels[] = {"email", "sms", "phone", "mail", "portal"};

static json_t *
channels_json(unsigned bits)
{
    json_t *a;

    if (bits == 0)
        return json_null();
    a = json_array();
    for (size_t i = 0; a && i < PV_ARRAY_LEN(pref_channels); i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(pref_channels[i]));
    return a;
}

static int
prefs_json(struct pv_vault *v, const struct pv_call *call, const struct onfile *o, json_t **out)
{
    int u = pv_policy_purpose(v->policy, call->purpose);
    int contact = u >= 0 && pv_purpose_covers(&v->policy->purposes[u], "user.contact");
    json_t *j;

    j = json_pack("{s:o, s:o?}", "channels", channels_json(o->have_prefs ? o->prefs.channels : 0),
                  "updated", o->have_prefs ? pv_json_time(o->prefs.ts) : json_null());
    if (j == NULL)
        return PV_ENOMEM;
    /* The addresses are contact data: only a purpose covering user.contact sees them. */
    if (contact)
        json_object_set_new(j, "addresses",
                            o->addresses ? json_incref(o->addresses) : json_object());
    else
        json_object_set_new(j, "withheld", json_pack("[s]", "addresses"));
    *out = j;
    return 0;
}

int
pv_vault_contact_prefs_get(struct pv_vault *v, struct pv_call *call, const char *subject,
                           json_t **out)
{
    struct pv_access a;
    struct onfile *o;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((o = malloc(sizeof *o)) == NULL)
        return PV_ENOMEM;
    rc = onfile_load(v, c, subject, o);
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_READ;
        a.audit_action = "contact.preferences.read";
        a.subject = subject;
        a.collection = -1;
        a.audit_collection = "confidential-communications";
        a.subject_exists = o->exists;
        rc = pv_access(v, call, &a, NULL, NULL, NULL);
    }
    if (rc == 0)
        rc = prefs_json(v, call, o, out);
    onfile_fini(o);
    free(o);
    return rc;
}

struct prefs_write {
    struct pv_contact_prefs prefs;
    const char *index;                       /* the SMS number's blind index, or NULL */
    unsigned char digests[2][PV_HASH_BYTES]; /* own sms and phone numbers */
    int ndigests;
};

static int
apply_prefs(struct pv_conn *w, void *arg)
{
    struct prefs_write *pw = arg;
    int rc = pv_store_contact_prefs_put(w, &pw->prefs);

    /* A STOP from the person's own number must find them, like one from the profile's. */
    for (int i = 0; rc == 0 && i < pw->ndigests; i++)
        rc = pv_store_index_put(w, pw->index, pw->digests[i], pw->prefs.subject_id);
    return rc;
}

/* Check {channels, addresses}; channels and the addresses JSON to seal. */
static int
prefs_parse(const json_t *body, struct pv_call *call, unsigned *bits, json_t **addresses)
{
    const json_t *chs = json_object_get(body, "channels"),
                 *adr = json_object_get(body, "addresses");
    const char *key;
    json_t *value;
    size_t i, k;

    *bits = 0;
    *addresses = NULL;
    json_object_foreach((json_t *)body, key, value)
    {
        if (strcmp(key, "channels") != 0 && strcmp(key, "addresses") != 0) {
            call->detail = "contact preferences have channels and addresses";
            pv_strlcpy(call->field, strlen(key) < PV_NAME_MAX ? key : "?", sizeof call->field);
            return PV_EINVAL;
        }
    }
    if (chs == NULL || (!json_is_null(chs) && (!json_is_array(chs) || json_array_size(chs) == 0))) {
        call->detail = "channels is a non-empty list of email, sms, phone, mail and portal, or "
                       "null for no restriction";
        pv_strlcpy(call->field, "channels", sizeof call->field);
        return PV_EINVAL;
    }
    json_array_foreach(chs, i, value)
    {
        for (k = 0; k < PV_ARRAY_LEN(pref_channels); k++)
            if (json_is_string(value) && strcmp(json_string_value(value), pref_channels[k]) == 0)
                break;
        if (k == PV_ARRAY_LEN(pref_channels)) {
            call->detail = "each channel is email, sms, phone, mail or portal";
            pv_strlcpy(call->field, "channels", sizeof call->field);
            return PV_EINVAL;
        }
        *bits |= 1u << k;
    }
    if (adr == NULL)
        return 0;
    if (!json_is_object(adr)) {
        call->detail = "addresses maps a channel to the address to use for it";
        pv_strlcpy(call->field, "addresses", sizeof call->field);
        return PV_EINVAL;
    }
    json_object_foreach((json_t *)adr, key, value)
    {
        int ch = pv_channel_parse(key);
        const char *s = json_string_value(value);
        char norm[64];
        int ok = ch != PV_CH_NONE && s && *s && strlen(s) <= ADDRESS_MAX &&
                 (*bits == 0 || (*bits & (1u << ch)));
        if (ok && (ch == PV_CH_SMS || ch == PV_CH_PHONE))
            ok = pv_index_normalize("phone", s, norm, sizeof norm) == 0 && strlen(norm) >= 7;
        if (ok && ch == PV_CH_EMAIL)
            ok = strchr(s, '@') != NULL;
        if (!ok) {
            call->detail = "each address is for a channel the person allows: an email address, "
                           "a phone number, or a postal address";
            pv_strlcpy(call->field, "addresses", sizeof call->field);
            return PV_EINVAL;
        }
    }
    *addresses = json_deep_copy(adr);
    return *addresses ? 0 : PV_ENOMEM;
}

int
pv_vault_contact_prefs_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const json_t *body, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct pv_seal_ad ad = {subject, "contact-prefs", "addresses"};
    struct prefs_write *pw;
    struct pv_access a;
    struct onfile *o;
    struct pv_conn *c;
    json_t *addresses = NULL;
    unsigned bits;
    char *text = NULL;
    int rc;

    if ((rc = prefs_parse(body, call, &bits, &addresses)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0) {
        json_decref(addresses);
        return rc;
    }
    pw = calloc(1, sizeof *pw);
    o = calloc(1, sizeof *o);
    rc = pw && o ? onfile_load(v, c, subject, o) : PV_ENOMEM;
    if (rc == 0 && o->exists) {
        pv_strlcpy(pw->prefs.subject_id, subject, sizeof pw->prefs.subject_id);
        pw->prefs.channels = bits;
        pw->prefs.ts = pv_now_ms();
        pv_strlcpy(pw->prefs.actor, call->actor ? call->actor->user_id : "anonymous",
                   sizeof pw->prefs.actor);
        if (addresses && json_object_size(addresses) > 0) {
            text = json_dumps(addresses, JSON_COMPACT);
            rc = text && strlen(text) + PV_SEAL_OVERHEAD <= sizeof pw->prefs.addresses
                     ? pv_seal(&o->dk, &ad, text, strlen(text), pw->prefs.addresses,
                               sizeof pw->prefs.addresses, &pw->prefs.addresses_len)
                     : PV_EINVAL;
        }
        if (rc == 0 && p->sms.phone_category >= 0) {
            pw->index = p->categories[p->sms.phone_category].key;
            for (int ch = PV_CH_SMS; ch <= PV_CH_PHONE; ch++) {
                const char *s = json_string_value(json_object_get(addresses, pv_channel_name(ch)));
                char norm[64];
                if (s && pv_index_normalize(pw->index, s, norm, sizeof norm) == 0)
                    pv_keyring_blind(v->keys, pw->index, norm, pw->digests[pw->ndigests++]);
                pv_wipe(norm, sizeof norm);
            }
        }
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_CONSENT;
        a.audit_action = "contact.preferences";
        a.subject = subject;
        a.collection = -1;
        a.audit_collection = "confidential-communications";
        a.subject_exists = o->exists;
        rc = pv_access(v, call, &a, apply_prefs, pw, NULL);
    }
    if (rc == 0) {
        o->have_prefs = 1;
        o->prefs = pw->prefs;
        json_decref(o->addresses);
        o->addresses = addresses;
        addresses = NULL;
        rc = prefs_json(v, call, o, out);
    }
    if (text) {
        pv_wipe(text, strlen(text));
        free(text);
    }
    json_decref(addresses);
    if (o)
        onfile_fini(o);
    free(o);
    if (pw)
        pv_wipe(pw, sizeof *pw);
    free(pw);
    return rc;
}

/* ---- disclosure check ---------------------------------------------------------------- */

static const char *const disclose_answers[] = {
    "sms-never-shared",
    "unknown-recipient",
    "purpose-excludes-field",
    "marketing-needs-authorization",
    "authorization-required",
    "sale-opted-out",
    "consent-required",
    "pending-policy-change",
    /* the recipient's rules (policy/decide.c: disclose_denial) */
    "recipient-kind-forbidden",
    "business-partner-no-health-data",
    "baa-required",
    "recipient-excludes-field",
};

/* A mask of comma-separated names, each found by find(); PV_EINVAL if one is not. */
static int
names_mask(const char *list, int (*find)(const void *ctx, const char *name), const void *ctx,
           uint64_t *mask)
{
    char name[PV_NAME_MAX];
    const char *s = list, *comma;
    size_t n;
    int i;

    *mask = 0;
    for (; *s; s = comma ? comma + 1 : s + n) {
        comma = strchr(s, ',');
        n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == 0 || n >= sizeof name)
            return PV_EINVAL;
        memcpy(name, s, n);
        name[n] = '\0';
        if ((i = find(ctx, name)) < 0)
            return PV_EINVAL;
        *mask |= UINT64_C(1) << i;
    }
    return 0;
}

static int
find_field(const void *ctx, const char *name)
{
    return pv_policy_field(ctx, name);
}

static int
find_consent(const void *ctx, const char *name)
{
    return pv_policy_consent(ctx, name);
}

int
pv_vault_disclosure_check(struct pv_vault *v, struct pv_call *call, const char *subject,
                          const char *recipient, const char *collection, const char *fields,
                          const char *consents, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct pv_subject s;
    struct pv_facts f;
    struct pv_access a;
    struct pv_conn *c;
    const char *reason = "permit";
    int ci = -1, rc, allowed;
    uint64_t mask = 0;

    memset(&f, 0, sizeof f);
    f.recipient = -1;
    for (int i = 0; recipient && i < p->nrecipients; i++)
        if (strcmp(p->recipients[i].key, recipient) == 0)
            f.recipient = i;
    if (collection && (ci = pv_policy_collection(p, collection)) < 0) {
        call->detail = "collection must be a collection of the policy";
        pv_strlcpy(call->field, "collection", sizeof call->field);
        return PV_EINVAL;
    }
    if (ci >= 0) {
        const struct pv_collection *col = &p->collections[ci];
        mask = col->nfields == 64 ? UINT64_MAX : (UINT64_C(1) << col->nfields) - 1;
        if (fields && names_mask(fields, find_field, col, &mask) != 0) {
            call->detail = "fields lists fields of the collection, separated by commas";
            pv_strlcpy(call->field, "fields", sizeof call->field);
            return PV_EINVAL;
        }
    }
    if (consents && names_mask(consents, find_consent, p, &f.consents_disclosed) != 0) {
        call->detail = "consents lists consent kinds of the policy, separated by commas";
        pv_strlcpy(call->field, "consents", sizeof call->field);
        return PV_EINVAL;
    }
    if (ci < 0 && f.consents_disclosed == 0) {
        call->detail = "name what would be disclosed: a collection (and fields), or consents";
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_DISCLOSE;
    a.audit_action = "disclosure.check";
    a.subject = subject;
    a.collection = ci;
    a.fields = mask;
    a.audit_recipient = f.recipient >= 0 ? p->recipients[f.recipient].key : "?";
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    a.more = &f;
    rc = pv_access(v, call, &a, NULL, NULL, NULL);
    allowed = rc == 0;
    if (rc == PV_EDENIED && !a.subject_exists &&
        is_answer(call->reason, disclose_answers, PV_ARRAY_LEN(disclose_answers))) {
        call->reason = "no-such-subject";
        rc = PV_ENOTFOUND;
    }
    if (rc == PV_EDENIED &&
        is_answer(call->reason, disclose_answers, PV_ARRAY_LEN(disclose_answers))) {
        reason = call->reason;
        call->reason = NULL;
        rc = 0;
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:b, s:s}", "subject_id", subject, "recipient",
                         f.recipient >= 0 ? p->recipients[f.recipient].key : "?", "allowed",
                         allowed, "reason", reason);
        if (*out == NULL)
            rc = PV_ENOMEM;
    }
    return rc;
}
