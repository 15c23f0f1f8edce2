/*
 * notice.c: the privacy notice people read, rendered from the policy the
 * server enforces (Markdown or HTML).
 *
 * Every category, purpose, recipient, right and retention of the policy is
 * named in the notice, so the text people read can never promise less or
 * other than the rules the decision function applies. Names and category
 * keys come from the loader's restricted alphabet; every other text (the
 * organization's name and contacts, descriptions, the SMS help text) is
 * escaped for the format, so a policy cannot inject markup into the page.
 */
#include <stdio.h>
#include <string.h>

#include "policy/policy_int.h"

/* The emitter: one buffer, the format, and the first error (later calls do nothing). */
struct out {
    struct pv_buf *b;
    int html;
    int rc;
};

static void
raw(struct out *o, const char *s)
{
    if (o->rc == 0)
        o->rc = pv_buf_puts(o->b, s);
}

/* Free text: HTML entities, or Markdown's markup characters behind a backslash. */
static void
text(struct out *o, const char *s)
{
    if (o->html) {
        if (o->rc == 0)
            o->rc = pv_buf_markup(o->b, s);
        return;
    }
    for (const char *q = s; s && *q && o->rc == 0; q++) {
        const char *e = NULL;
        char one[3] = {'\\', *q, '\0'};

        if (strchr("\\`*_[]<>|#!~", *q) != NULL) {
            e = one;
        } else if (*q == '\n' || *q == '\r') {
            e = " "; /* a newline in a table cell would end its row */
        }
        o->rc = e ? pv_buf_puts(o->b, e) : pv_buf_append(o->b, q, 1);
    }
}

/* A name or category key: a code span (their alphabet needs no escaping in Markdown). */
static void
code(struct out *o, const char *s)
{
    raw(o, o->html ? "<code>" : "`");
    if (o->html)
        text(o, s);
    else
        raw(o, s);
    raw(o, o->html ? "</code>" : "`");
}

static void
heading(struct out *o, int level, const char *title)
{
    if (o->html) {
        raw(o, level == 1 ? "<h1>" : "<h2>");
        text(o, title);
        raw(o, level == 1 ? "</h1>\n" : "</h2>\n");
    } else {
        raw(o, level == 1 ? "# " : "## ");
        text(o, title);
        raw(o, "\n\n");
    }
}

static void
para_begin(struct out *o)
{
    raw(o, o->html ? "<p>" : "");
}

static void
para_end(struct out *o)
{
    raw(o, o->html ? "</p>\n" : "\n\n");
}

/* A paragraph of free text. */
static void
para(struct out *o, const char *s)
{
    para_begin(o);
    text(o, s);
    para_end(o);
}

static void
table_begin(struct out *o, const char *const *cols, int n)
{
    raw(o, o->html ? "<table>\n<thead><tr>" : "|");
    for (int i = 0; i < n; i++) {
        raw(o, o->html ? "<th>" : " ");
        text(o, cols[i]);
        raw(o, o->html ? "</th>" : " |");
    }
    if (o->html) {
        raw(o, "</tr></thead>\n<tbody>\n");
        return;
    }
    raw(o, "\n|");
    for (int i = 0; i < n; i++)
        raw(o, "---|");
    raw(o, "\n");
}

static void
row_begin(struct out *o)
{
    raw(o, o->html ? "<tr><td>" : "| ");
}

static void
cell_next(struct out *o)
{
    raw(o, o->html ? "</td><td>" : " | ");
}

static void
row_end(struct out *o)
{
    raw(o, o->html ? "</td></tr>\n" : " |\n");
}

static void
table_end(struct out *o)
{
    raw(o, o->html ? "</tbody>\n</table>\n" : "\n");
}

static void
list_begin(struct out *o)
{
    raw(o, o->html ? "<ul>\n" : "");
}

static void
item_begin(struct out *o)
{
    raw(o, o->html ? "<li>" : "- ");
}

static void
item_end(struct out *o)
{
    raw(o, o->html ? "</li>\n" : "\n");
}

static void
list_end(struct out *o)
{
    raw(o, o->html ? "</ul>\n" : "\n");
}

static void
number(struct out *o, int n)
{
    if (o->rc == 0)
        o->rc = pv_buf_printf(o->b, "%d", n);
}

/* ---- the words ---------------------------------------------------------------- */

static const char *
kind_words(int kind)
{
    static const char *const words[PV_RK_COUNT_] = {
        [PV_RK_PROVIDER] = "other health-care providers involved in your care",
        [PV_RK_SERVICE_PROVIDER] = "service providers working on our behalf",
        [PV_RK_AFFILIATE] = "our affiliates",
        [PV_RK_BUSINESS_PARTNER] = "business partners",
        [PV_RK_LEGAL] = "courts, authorities and others where the law requires it",
        [PV_RK_BUYER] = "a buyer of the business, in a merger, acquisition or asset sale",
    };
    return kind >= 0 && kind < PV_RK_COUNT_ ? words[kind] : "recipients";
}

/* What each right lets a person do, in the order of pv_right_name(). */
static const char *const right_words[PV_RIGHTS_COUNT] = {
    "See all the data we hold about you and get a copy, also a printable one",
    "Ask us to correct or amend your data; if we refuse, you may file a statement of "
    "disagreement that goes with your record",
    "Ask us to delete your data; what the law requires us to keep is kept, and we tell you "
    "what and until when",
    "Restrict the processing of your data: it is then only stored, not used",
    "Receive your data in a structured, machine-readable format (JSON or FHIR R4)",
    "Object to marketing and to the sale or sharing of your information",
    "Withdraw a consent you gave; what was done before in reliance on it stays done",
    "Know which categories of your data we collected in the past 12 months, from where, why, "
    "and the kinds of recipients",
    "Get an accounting of the disclosures of your health information other than for "
    "treatment, payment and health-care operations, for the past 6 years",
    "File a complaint with us",
};

static const struct {
    const char *name, *words;
} complaint_channels[] = {
    {"hhs_ocr", "U.S. Department of Health and Human Services, Office for Civil Rights: "
                "www.hhs.gov/ocr, 1-800-368-1019"},
    {"california_ag", "California Attorney General: oag.ca.gov/privacy, 1-800-952-5225"},
};

static void
retention_words(struct out *o, const struct pv_category *c)
{
    static const char *const units[] = {"", "", "day", "month", "year"};
    static const char *const froms[] = {"from when it was recorded", "after your account is closed",
                                        "after your last visit"};
    const struct pv_retention *r = &c->retention;

    if (r->unit == PV_RET_ACCOUNT) {
        raw(o, "while your account is open");
    } else if (r->unit == PV_RET_FOREVER) {
        raw(o, "without end");
    } else {
        number(o, r->n);
        raw(o, " ");
        raw(o, units[r->unit]);
        raw(o, r->n == 1 ? " " : "s ");
        raw(o, froms[r->from]);
    }
    raw(o, c->disposal == PV_DISPOSE_ANONYMIZE
               ? "; then kept only without anything that identifies you"
               : "; then securely destroyed, also in backups");
    raw(o, c->deletion_keep ? "; a deletion request keeps it until then, as the law requires"
                            : "; a deletion request deletes it at once");
}

/* The fields (collection.field) holding values of category i. */
static void
fields_of(struct out *o, const struct pv_policy *p, int cat)
{
    int n = 0;

    for (int c = 0; c < p->ncollections; c++)
        for (int f = 0; f < p->collections[c].nfields; f++) {
            char name[2 * PV_NAME_MAX + 2];
            if (p->collections[c].fields[f].category != cat)
                continue;
            raw(o, n++ ? ", " : "");
            if (pv_strlcpy(name, p->collections[c].name, PV_NAME_MAX) == 0) {
                size_t k = strlen(name);
                name[k] = '.';
                (void)pv_strlcpy(name + k + 1, p->collections[c].fields[f].name, PV_NAME_MAX);
                code(o, name);
            }
        }
}

/* ---- the sections ----------------------------------------------------------------- */

static void
section_intro(struct out *o, const struct pv_policy *p)
{
    raw(o, o->html ? "<h1>Privacy notice of " : "# Privacy notice of ");
    text(o, p->org.name);
    raw(o, o->html ? "</h1>\n" : "\n\n");
    para_begin(o);
    raw(o, "Version ");
    code(o, p->version);
    raw(o, ", effective ");
    raw(o, p->effective);
    raw(o, ". ");
    text(o, p->org.name);
    raw(o, strcmp(p->org.role, "covered_entity") == 0
               ? " is a covered entity under HIPAA."
               : " is a business associate under HIPAA of the practices it serves.");
    raw(o, " This notice is generated from the same policy file that our server enforces on "
           "every access to your data, and every access is recorded in a tamper-evident audit "
           "log.");
    para_end(o);
    if (p->change.material) {
        para_begin(o);
        raw(o, "This version changes how personal data is used. It applies to data collected "
               "before it only once you accept it, or ");
        number(o, p->change.notice_days);
        raw(o, " days after we notified you if you do not object.");
        if (p->change.summary) {
            raw(o, " What changed: ");
            text(o, p->change.summary);
        }
        para_end(o);
    }
}

/* What end-to-end encryption means, where a category is stored so. */
static void
section_end_to_end(struct out *o, const struct pv_policy *p)
{
    int any = 0;

    for (int i = 0; i < p->ncategories; i++)
        any |= p->categories[i].store == PV_STORE_E2E;
    if (!any)
        return;
    para(o, "What is end-to-end encrypted is sealed on the sender's device, once for each person "
            "who may read it (you, and those this notice lets read it, such as your assigned "
            "provider), with that person's own public key. We hold only these sealed copies: "
            "neither we nor anyone who obtains our servers or backups can read them, and a copy "
            "of your data gives them to you still sealed, for your device to open. A copy is "
            "sealed only for a person who may read it and has registered a key. If a reader "
            "replaces their key, what was sealed for the old key opens only with the old one.");
    if (p->cards.refuse)
        para(o, "We cannot look inside end-to-end encrypted values, so we cannot refuse a card "
                "number written in one: please never write one there.");
}

static void
section_collected(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {"Category", "Health information", "Where it is held",
                                       "How it is stored"};

    heading(o, 2, "What we collect");
    para(o, "We hold only the fields below; anything else sent to us is refused. Every value "
            "is encrypted under a key of your own.");
    table_begin(o, cols, 4);
    for (int i = 0; i < p->ncategories; i++) {
        const struct pv_category *c = &p->categories[i];
        row_begin(o);
        code(o, c->key);
        cell_next(o);
        raw(o, c->phi ? "yes" : "no");
        cell_next(o);
        fields_of(o, p, i);
        cell_next(o);
        raw(o, c->store == PV_STORE_LAST4 ? "only the last 4 digits"
               : c->store == PV_STORE_E2E ? "end-to-end encrypted"
                                          : "encrypted");
        if (c->consent >= 0) {
            raw(o, "; only with your consent ");
            code(o, p->consents[c->consent]);
        }
        row_end(o);
    }
    table_end(o);
    if (p->recordings.declared) {
        para(o, p->recordings.recorded
                    ? "Sessions are recorded; the recordings are health information."
                    : "Sessions are never recorded, neither video nor audio: no recording can "
                      "be stored.");
    }
    if (p->usage >= 0)
        para(o, "Usage data (addresses, devices, pages) is kept apart from health information, "
                "with its own retention.");
    if (p->cards.refuse)
        para(o, "We never store a full payment card number: a card is kept by its last 4 digits "
                "only, and a full card number sent to us anywhere is refused, not stored.");
    section_end_to_end(o, p);
}

static void
section_purposes(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {"Purpose", "Why", "Who", "Categories", "Needs"};

    heading(o, 2, "Why we use it");
    para(o, "Every access to your data states one of these purposes, and returns only the "
            "categories that purpose may use.");
    table_begin(o, cols, 5);
    for (int i = 0; i < p->npurposes; i++) {
        const struct pv_purpose *u = &p->purposes[i];
        int n = 0;
        row_begin(o);
        code(o, u->key);
        cell_next(o);
        text(o, u->description ? u->description : "");
        if (u->tpo)
            raw(o, u->description ? " (treatment, payment or operations)"
                                  : "Treatment, payment or operations");
        if (u->basis == PV_BASIS_LAW)
            raw(o, " (required or allowed by law: no authorization needed)");
        if (u->basis == PV_BASIS_PERSON)
            raw(o, " (answering your own requests: no authorization needed)");
        if (u->deidentified)
            raw(o, " (de-identified or aggregate data only: never anything that identifies you)");
        if (u->sale)
            raw(o, " (a sale or sharing of your information: only until you opt out)");
        cell_next(o);
        for (int k = 0; k < p->nroles; k++)
            if (u->roles & (1u << k)) {
                raw(o, n++ ? ", " : "");
                code(o, p->roles[k].name);
            }
        cell_next(o);
        for (int k = 0; k < u->ncategories; k++) {
            raw(o, k ? ", " : "");
            code(o, u->categories[k]);
        }
        cell_next(o);
        n = 0;
        for (int k = 0; k < p->nconsents; k++)
            if (u->requires & (UINT64_C(1) << k)) {
                raw(o, n++ ? ", " : "your consent ");
                code(o, p->consents[k]);
            }
        if (n == 0)
            raw(o, "nothing more");
        row_end(o);
    }
    table_end(o);
    para(o, "We use your health information only for treatment, payment and health-care "
            "operations, for you, and where the law requires or allows it (the purposes marked "
            "so); for anything else, marketing above all, only with your written authorization "
            "for that purpose, which you may withdraw.");
    for (int i = 0; i < p->npurposes; i++)
        if (p->purposes[i].deidentified) {
            char line[512];
            (void)snprintf(line, sizeof line,
                           "Purposes marked de-identified see only data that cannot identify you: "
                           "records kept apart from anyone's name, with the month only, and "
                           "counts in which any group of fewer than %d records or people is "
                           "suppressed. De-identified data may be kept after your own data is "
                           "deleted.",
                           p->aggregates.min_cell);
            para(o, line);
            break;
        }
}

static void
section_recipients(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {
        "Recipient",
        "Who they are",
        "Business associate agreement",
        "What they may receive",
    };
    int n = 0;

    heading(o, 2, "Who receives it");
    if (p->nrecipients == 0) {
        para(o, "We disclose your data to no one.");
    } else {
        para(o, "Only these recipients may receive your data, each only the categories named; "
                "every disclosure is recorded.");
        table_begin(o, cols, 4);
        for (int i = 0; i < p->nrecipients; i++) {
            const struct pv_recipient *rc = &p->recipients[i];
            int kind = pv_recipient_kind_parse(rc->kind);
            row_begin(o);
            code(o, rc->key);
            cell_next(o);
            text(o, kind_words(kind));
            cell_next(o);
            /* Providers receiving for care and legal recipients need none (docs/policy.md). */
            raw(o, rc->baa                  ? "signed"
                   : kind == PV_RK_PROVIDER ? "not needed: they receive it for your care"
                   : kind == PV_RK_LEGAL    ? "not needed: only what the law requires"
                                            : "none: never receives health information");
            cell_next(o);
            for (int k = 0; k < rc->ncategories; k++) {
                raw(o, k ? ", " : "");
                code(o, rc->categories[k]);
            }
            if (p->disclosure.forbidden_kinds & (1u << kind))
                raw(o, " (nothing: we never share with this kind of recipient)");
            if (rc->sale)
                raw(o, " (a sale or sharing: only until you opt out)");
            row_end(o);
        }
        table_end(o);
    }
    para_begin(o);
    raw(o, p->disclosure.never_sell
               ? "We never sell your personal information, nor share it for advertising on "
                 "other businesses' services: no recipient above receives it as a sale"
               : "We never sell your personal information");
    for (int k = 0; !p->disclosure.never_sell && k < p->nconsents; k++)
        if (p->consent_kinds[k].type == PV_CONSENT_SALE) {
            raw(o, " or share it without your explicit consent ");
            code(o, p->consents[k]);
            break;
        }
    raw(o, ". Your browser's Global Privacy Control signal is honored as an opt-out.");
    para_end(o);
    for (int k = 0; k < PV_RK_COUNT_; k++)
        if (p->disclosure.forbidden_kinds & (1u << k)) {
            if (n++ == 0) {
                para(o, "We never share your data, whatever the purpose, with:");
                list_begin(o);
            }
            item_begin(o);
            text(o, kind_words(k));
            item_end(o);
        }
    if (n)
        list_end(o);
    if (p->sms.never_shared)
        para(o, "Your phone number for text messages and your text-message consent are never "
                "shared with any third party.");
}

static void
section_consents(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {"Choice", "What it is", "Until you change it"};

    heading(o, 2, "Your choices");
    table_begin(o, cols, 3);
    for (int k = 0; k < p->nconsents; k++) {
        const struct pv_consent_kind *ck = &p->consent_kinds[k];
        row_begin(o);
        code(o, ck->name);
        cell_next(o);
        text(o, ck->description ? ck->description : pv_consent_type_name(ck->type));
        cell_next(o);
        raw(o, ck->default_granted ? "on: you may opt out at any time" : "off: only if you opt in");
        row_end(o);
    }
    table_end(o);
}

static void
section_rights(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {"Right", "What you may do", "We answer within"};

    heading(o, 2, "Your rights");
    para(o, "File a request from your account, or ask us by any contact below; an authorized "
            "agent or your guardian may act for you. We verify who asks, and answer within the "
            "deadline, which we may extend once, telling you why. Using a right never makes "
            "our service to you worse.");
    table_begin(o, cols, 3);
    for (int i = 0; pv_right_name(i); i++) {
        int days, ext;
        if (pv_policy_right(p, pv_right_name(i), &days, &ext) != 0)
            continue;
        row_begin(o);
        code(o, pv_right_name(i));
        cell_next(o);
        raw(o, right_words[i]);
        cell_next(o);
        number(o, days);
        raw(o, " days (extension: at most ");
        number(o, ext);
        raw(o, " days)");
        row_end(o);
    }
    table_end(o);
}

static void
section_retention(struct out *o, const struct pv_policy *p)
{
    static const char *const cols[] = {"Category", "How long we keep it"};

    heading(o, 2, "How long we keep it");
    table_begin(o, cols, 2);
    for (int i = 0; i < p->ncategories; i++) {
        char r[16];
        row_begin(o);
        code(o, p->categories[i].key);
        cell_next(o);
        retention_words(o, &p->categories[i]);
        pv_retention_format(&p->categories[i].retention, r);
        raw(o, " (");
        code(o, r);
        raw(o, ")");
        row_end(o);
    }
    table_end(o);
    para(o, "A legal hold keeps data past its retention while a dispute lasts. Once your "
            "account is closed and nothing is left, your key is destroyed, so no copy, backups "
            "included, can ever be read again.");
}

static void
section_age(struct out *o, const struct pv_policy *p)
{
    heading(o, 2, "Age");
    para_begin(o);
    raw(o, "You must be at least ");
    number(o, p->minimum_age);
    raw(o, " years old to use the service");
    if (p->minors.guardian_enrollment) {
        raw(o, "; a parent or legal guardian of at least ");
        number(o, p->minors.guardian_age);
        raw(o, " may enroll a younger person and act for them");
    }
    raw(o, ". We hold no data of a child under ");
    number(o, p->minors.consent_age);
    raw(o, " without verified parental consent, and delete it at once if we find it.");
    if (p->minors.features) {
        raw(o, " Below ");
        number(o, p->minors.adult_age);
        raw(o, " a person may use only: ");
        for (int i = 0; i < p->minors.nfeatures; i++) {
            raw(o, i ? ", " : "");
            code(o, p->collections[p->minors.features[i]].name);
        }
        raw(o, ".");
    }
    para_end(o);
}

static void
section_contact(struct out *o, const struct pv_policy *p)
{
    static const char *const channels[] = {"email", "text message", "phone", "mail"};
    int n = 0;

    heading(o, 2, "How we contact you");
    para_begin(o);
    raw(o, "We contact you only by ");
    for (int c = 0; c < PV_CH_COUNT_; c++)
        if (p->channels & (1u << c)) {
            raw(o, n++ ? ", " : "");
            raw(o, channels[c]);
        }
    raw(o, ", and only the way you choose: you may require one channel and address for all our "
           "messages. Marketing email carries an unsubscribe link that works at once.");
    para_end(o);
    if (p->sms.program) {
        para_begin(o);
        raw(o, "Text messages (");
        text(o, p->sms.program);
        raw(o, "): reply STOP to stop them at once, START to receive them again, HELP for "
               "help, which answers: ");
        text(o, p->sms.help);
        para_end(o);
    }

    heading(o, 2, "Contact us, and complaints");
    list_begin(o);
    item_begin(o);
    text(o, p->org.name);
    item_end(o);
    if (p->org.email) {
        item_begin(o);
        raw(o, "Email: ");
        text(o, p->org.email);
        item_end(o);
    }
    if (p->org.phone) {
        item_begin(o);
        raw(o, "Phone: ");
        text(o, p->org.phone);
        item_end(o);
    }
    if (p->org.address) {
        item_begin(o);
        raw(o, "Address: ");
        text(o, p->org.address);
        item_end(o);
    }
    if (!p->org.email && !p->org.phone && !p->org.address) {
        item_begin(o);
        raw(o, "Through your account, where you also file requests under your rights");
        item_end(o);
    }
    list_end(o);
    para(o, "You may file a complaint with us (the complaint right above), and with:");
    list_begin(o);
    for (int i = 0; i < p->org.ncomplaints; i++) {
        const char *words = NULL;
        for (size_t k = 0; k < PV_ARRAY_LEN(complaint_channels); k++)
            if (strcmp(p->org.complaints[i], complaint_channels[k].name) == 0)
                words = complaint_channels[k].words;
        item_begin(o);
        if (words)
            raw(o, words);
        else
            text(o, p->org.complaints[i]);
        item_end(o);
    }
    if (p->org.ncomplaints == 0) {
        item_begin(o);
        raw(o, "the authority that protects personal data where you live");
        item_end(o);
    }
    list_end(o);
}

int
pv_policy_notice_format(const char *s)
{
    if (s && strcmp(s, "md") == 0)
        return PV_NOTICE_MD;
    if (s && strcmp(s, "html") == 0)
        return PV_NOTICE_HTML;
    return -1;
}

int
pv_policy_notice(const struct pv_policy *p, int format, struct pv_buf *out)
{
    struct out o = {out, format == PV_NOTICE_HTML, 0};

    if (format != PV_NOTICE_MD && format != PV_NOTICE_HTML)
        return PV_EINVAL;
    if (o.html) {
        raw(&o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>Privacy notice of ");
        text(&o, p->org.name);
        raw(&o, "</title>\n</head>\n<body>\n");
    }
    section_intro(&o, p);
    section_collected(&o, p);
    section_purposes(&o, p);
    section_recipients(&o, p);
    section_consents(&o, p);
    section_rights(&o, p);
    section_retention(&o, p);
    section_age(&o, p);
    section_contact(&o, p);
    if (o.html)
        raw(&o, "</body>\n</html>\n");
    return o.rc;
}
