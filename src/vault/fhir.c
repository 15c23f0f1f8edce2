/*
 * fhir.c: an export as another system reads it (a FHIR R4 Bundle) and as
 * a person prints it (an HTML page).
 *
 * The Bundle (type collection) holds a Patient made from the profile (the
 * fields whose categories FHIR names: name, email, phone, birth date,
 * address; the rest as extensions), one resource per record fitting it (an
 * Encounter per record of the policy's visit collection, an Observation
 * per record of another collection holding health data, a Basic resource
 * for any other record, usage data included), and a Consent per consent
 * kind in the person's ledger. Every field keeps its name and its category
 * (fideslang key) in codings or extensions, so nothing is lost on import.
 * FHIR ids allow letters, digits, '-' and '.': phivault's ids change '_'
 * to '-'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define FIELD_SYSTEM "urn:phivault:field"
#define COLLECTION_SYSTEM "urn:phivault:collection"
#define CATEGORY_SYSTEM "https://ethyca.github.io/fideslang/"
#define EXT_BASE "urn:phivault:field:"

/* A FHIR id from a phivault id (or a name): letters, digits, '-', '.'; at most 64. */
static void
fhir_id(const char *in, char out[65])
{
    size_t i;

    for (i = 0; i < 64 && in[i]; i++) {
        char ch = in[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.'))
            ch = '-';
        out[i] = ch;
    }
    out[i] = '\0';
}

/* A FHIR string: non-empty; anything else is written as JSON text. */
static json_t *
text_of(const json_t *value)
{
    char *s;
    json_t *j;

    if (json_is_string(value))
        return json_string_length(value) ? json_incref((json_t *)value) : NULL;
    if (json_is_null(value))
        return NULL;
    if ((s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
        return NULL;
    j = json_string(s);
    pv_wipe(s, strlen(s));
    free(s);
    return j;
}

/* Set the value[x] of obj (an extension or a component) from a JSON value; 0 if none. */
static int
set_value(json_t *obj, const json_t *value, int quantity)
{
    json_t *t;

    if (json_is_boolean(value))
        return json_object_set_new(obj, "valueBoolean", json_boolean(json_is_true(value))) == 0;
    if (json_is_integer(value) && json_integer_value(value) >= INT32_MIN &&
        json_integer_value(value) <= INT32_MAX)
        return json_object_set_new(obj, "valueInteger", json_incref((json_t *)value)) == 0;
    if (json_is_real(value) || json_is_integer(value)) {
        json_t *n = json_real(json_number_value(value));
        return quantity
                   ? json_object_set_new(obj, "valueQuantity", json_pack("{s:o}", "value", n)) == 0
                   : json_object_set_new(obj, "valueDecimal", n) == 0;
    }
    if ((t = text_of(value)) == NULL)
        return 0;
    return json_object_set_new(obj, "valueString", t) == 0;
}

static json_t *
reference(const char *patient)
{
    char ref[96];

    (void)snprintf(ref, sizeof ref, "Patient/%s", patient);
    return json_pack("{s:s}", "reference", ref);
}

/* The fields of a record as extensions: {url, extension: [value, category]}. */
static json_t *
field_extensions(const char *collection, const json_t *fields, const char *skip_category_prefix)
{
    json_t *exts = json_array(), *f;
    const char *name;

    json_object_foreach((json_t *)fields, name, f)
    {
        const char *cat = json_string_value(json_object_get(f, "category"));
        char url[256];
        json_t *value = json_object(), *e;
        if (exts == NULL || value == NULL)
            break;
        if (skip_category_prefix && cat && pv_category_covers(skip_category_prefix, cat)) {
            json_decref(value);
            continue;
        }
        json_object_set_new(value, "url", json_string("value"));
        if (!set_value(value, json_object_get(f, "value"), 0)) {
            json_decref(value);
            continue;
        }
        (void)snprintf(url, sizeof url, "%s%s.%s", EXT_BASE, collection, name);
        e = json_pack("{s:s, s:[o, {s:s, s:s}]}", "url", url, "extension", value, "url", "category",
                      "valueString", cat ? cat : "unknown");
        if (e)
            json_array_append_new(exts, e);
    }
    return exts;
}

/* The profile as a Patient. */
static json_t *
patient(const char *pid, const json_t *exp, const json_t *profile)
{
    const json_t *rec = json_array_get(profile, 0), *fields = json_object_get(rec, "fields"), *f;
    json_t *p, *names = json_array(), *telecom = json_array(), *address = json_array(), *exts;
    const char *status =
                   json_string_value(json_object_get(json_object_get(exp, "subject"), "status")),
               *name;

    p = json_pack("{s:s, s:s, s:[{s:s, s:s}], s:b}", "resourceType", "Patient", "id", pid,
                  "identifier", "system", "urn:phivault:subject", "value",
                  json_string_value(json_object_get(json_object_get(exp, "subject"), "id")),
                  "active",
                  status && (strcmp(status, "active") == 0 || strcmp(status, "restricted") == 0));
    if (p == NULL || names == NULL || telecom == NULL || address == NULL) {
        json_decref(p);
        json_decref(names);
        json_decref(telecom);
        json_decref(address);
        return NULL;
    }
    json_object_foreach((json_t *)fields, name, f)
    {
        const char *cat = json_string_value(json_object_get(f, "category"));
        const json_t *value = json_object_get(f, "value");
        json_t *t = text_of(value);
        int y, m, d;
        if (cat == NULL || t == NULL) {
            json_decref(t);
            continue;
        }
        if (pv_category_covers("user.name", cat))
            json_array_append_new(names, json_pack("{s:o}", "text", t));
        else if (pv_category_covers("user.contact.email", cat))
            json_array_append_new(telecom, json_pack("{s:s, s:o}", "system", "email", "value", t));
        else if (pv_category_covers("user.contact.phone_number", cat))
            json_array_append_new(telecom, json_pack("{s:s, s:o}", "system", "phone", "value", t));
        else if (pv_category_covers("user.contact.address", cat))
            json_array_append_new(address, json_pack("{s:o}", "text", t));
        else if (pv_category_covers("user.demographic.date_of_birth", cat) &&
                 pv_date_parse(json_string_value(t), &y, &m, &d) == 0)
            json_object_set_new(p, "birthDate", t);
        else
            json_decref(t);
    }
    if (json_array_size(names))
        json_object_set(p, "name", names);
    if (json_array_size(telecom))
        json_object_set(p, "telecom", telecom);
    if (json_array_size(address))
        json_object_set(p, "address", address);
    json_decref(names);
    json_decref(telecom);
    json_decref(address);
    if (json_object_get(p, "birthDate") == NULL) {
        const char *b =
            json_string_value(json_object_get(json_object_get(exp, "subject"), "birth_date"));
        int y, m, d;
        if (b && pv_date_parse(b, &y, &m, &d) == 0)
            json_object_set_new(p, "birthDate", json_string(b));
    }
    /* What FHIR has no element for stays, as an extension with its category. */
    exts = field_extensions("profile", fields, NULL);
    if (exts && json_array_size(exts) > 0) {
        size_t i;
        json_t *e, *keep = json_array();
        json_array_foreach(exts, i, e)
        {
            const char *cat = json_string_value(
                json_object_get(json_array_get(json_object_get(e, "extension"), 1), "valueString"));
            if (keep && cat && !pv_category_covers("user.name", cat) &&
                !pv_category_covers("user.contact.email", cat) &&
                !pv_category_covers("user.contact.phone_number", cat) &&
                !pv_category_covers("user.contact.address", cat) &&
                !pv_category_covers("user.demographic.date_of_birth", cat))
                json_array_append(keep, e);
        }
        if (keep && json_array_size(keep))
            json_object_set_new(p, "extension", keep);
        else
            json_decref(keep);
    }
    json_decref(exts);
    return p;
}

static json_t *
collection_code(const char *collection)
{
    return json_pack("{s:[{s:s, s:s}], s:s}", "coding", "system", COLLECTION_SYSTEM, "code",
                     collection, "text", collection);
}

/* A record of a collection holding health data: an Observation, a component per field. */
static json_t *
observation(const char *pid, const char *collection, const json_t *rec)
{
    const json_t *fields = json_object_get(rec, "fields"), *f;
    json_t *o, *comps = json_array();
    const char *name;
    char id[65], code[192];

    fhir_id(json_string_value(json_object_get(rec, "id")), id);
    o = json_pack("{s:s, s:s, s:s, s:[{s:s}], s:o, s:o, s:O}", "resourceType", "Observation", "id",
                  id, "status", "final", "category", "text", collection, "code",
                  collection_code(collection), "subject", reference(pid), "effectiveDateTime",
                  json_object_get(rec, "created"));
    json_object_foreach((json_t *)fields, name, f)
    {
        const char *cat = json_string_value(json_object_get(f, "category"));
        json_t *c;
        (void)snprintf(code, sizeof code, "%s.%s", collection, name);
        c = json_pack("{s:{s:[{s:s, s:s}, {s:s, s:s}], s:s}}", "code", "coding", "system",
                      FIELD_SYSTEM, "code", code, "system", CATEGORY_SYSTEM, "code",
                      cat ? cat : "unknown", "text", name);
        if (c && set_value(c, json_object_get(f, "value"), 1))
            json_array_append_new(comps, c);
        else
            json_decref(c);
    }
    if (o && comps && json_array_size(comps))
        json_object_set(o, "component", comps);
    json_decref(comps);
    return o;
}

/* A record of the visit collection: an Encounter. */
static json_t *
encounter(const char *pid, const char *collection, const json_t *rec)
{
    json_t *e, *exts = field_extensions(collection, json_object_get(rec, "fields"), NULL);
    char id[65];

    fhir_id(json_string_value(json_object_get(rec, "id")), id);
    e = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:[o], s:o, s:{s:O}}", "resourceType",
                  "Encounter", "id", id, "status", "finished", "class", "system",
                  "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code", "AMB", "display",
                  "ambulatory", "type", collection_code(collection), "subject", reference(pid),
                  "period", "start", json_object_get(rec, "created"));
    if (e && exts && json_array_size(exts))
        json_object_set(e, "extension", exts);
    json_decref(exts);
    return e;
}

/* Any other record (payments, usage data): a Basic resource. */
static json_t *
basic(const char *pid, const char *collection, const json_t *rec)
{
    json_t *b, *exts = field_extensions(collection, json_object_get(rec, "fields"), NULL);
    char id[65], day[11];

    fhir_id(json_string_value(json_object_get(rec, "id")), id);
    /* Basic.created is a date: the day of the record's creation. */
    pv_strlcpy(day, json_string_value(json_object_get(rec, "created")), sizeof day);
    b = json_pack("{s:s, s:s, s:o, s:o, s:s}", "resourceType", "Basic", "id", id, "code",
                  collection_code(collection), "subject", reference(pid), "created", day);
    if (b && exts && json_array_size(exts))
        json_object_set(b, "extension", exts);
    json_decref(exts);
    return b;
}

/* The latest ledger entry of each kind as a Consent. */
static int
consents(const char *pid, const json_t *ledger, json_t *entries)
{
    const json_t *list = json_object_get(ledger, "entries"),
                 *current = json_object_get(ledger, "current");
    const json_t *held;
    const char *kind;

    json_object_foreach((json_t *)current, kind, held)
    {
        const json_t *latest = NULL, *e;
        char id[65];
        size_t i;
        json_t *c;
        int granted;
        if (json_is_true(json_object_get(held, "by_default")))
            continue;
        json_array_foreach(list, i, e)
        {
            if (json_string_value(json_object_get(e, "kind")) &&
                strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0)
                latest = e;
        }
        if (latest == NULL)
            continue;
        granted = json_is_true(json_object_get(held, "held"));
        fhir_id(json_string_value(json_object_get(latest, "id")), id);
        /* policyRule (a CodeableConcept) names the consent kind of the policy. */
        c = json_pack("{s:s, s:s, s:s, s:{s:[{s:s, s:s}]}, s:[{s:[{s:s, s:s, s:s}], s:s}], s:o,"
                      " s:O, s:{s:s}, s:{s:s}}",
                      "resourceType", "Consent", "id", id, "status",
                      granted ? "active" : "inactive", "scope", "coding", "system",
                      "http://terminology.hl7.org/CodeSystem/consentscope", "code",
                      "patient-privacy", "category", "coding", "system", "http://loinc.org", "code",
                      "59284-0", "display", "Patient Consent", "text", kind, "patient",
                      reference(pid), "dateTime", json_object_get(latest, "time"), "policyRule",
                      "text", kind, "provision", "type", granted ? "permit" : "deny");
        if (c == NULL || json_array_append_new(entries, json_pack("{s:o}", "resource", c)) != 0)
            return PV_ENOMEM;
    }
    return 0;
}

json_t *
pv_fhir_bundle(const struct pv_policy *p, const json_t *exp)
{
    const json_t *cols = json_object_get(exp, "collections"), *recs, *rec;
    const char *subject = json_string_value(json_object_get(json_object_get(exp, "subject"), "id"));
    json_t *bundle, *entries = json_array(), *pt;
    const char *name;
    char pid[65], bid[80];

    if (subject == NULL || entries == NULL) {
        json_decref(entries);
        return NULL;
    }
    fhir_id(subject, pid);
    (void)snprintf(bid, sizeof bid, "export-%s", pid);
    pt = patient(pid, exp, json_object_get(cols, "profile"));
    if (pt == NULL || json_array_append_new(entries, json_pack("{s:o}", "resource", pt)) != 0) {
        json_decref(entries);
        return NULL;
    }
    json_object_foreach((json_t *)cols, name, recs)
    {
        int ci = pv_policy_collection(p, name);
        size_t i;
        if (ci < 0 || strcmp(name, "profile") == 0)
            continue;
        json_array_foreach(recs, i, rec)
        {
            json_t *r;
            uint64_t all = p->collections[ci].nfields == 64
                               ? UINT64_MAX
                               : (UINT64_C(1) << p->collections[ci].nfields) - 1;
            if (ci == p->visit_collection)
                r = encounter(pid, name, rec);
            else if (ci != p->usage && pv_policy_touches_phi(p, ci, all))
                r = observation(pid, name, rec);
            else
                r = basic(pid, name, rec);
            if (r == NULL ||
                json_array_append_new(entries, json_pack("{s:o}", "resource", r)) != 0) {
                json_decref(entries);
                return NULL;
            }
        }
    }
    if (consents(pid, json_object_get(exp, "consents"), entries) != 0) {
        json_decref(entries);
        return NULL;
    }
    /* A collection has no total (FHIR's bdl-1: only searches and histories do). */
    bundle = json_pack("{s:s, s:s, s:s, s:O, s:o}", "resourceType", "Bundle", "id", bid, "type",
                       "collection", "timestamp", json_object_get(exp, "generated_at"), "entry",
                       entries);
    return bundle;
}

/* ---- a printable copy ----------------------------------------------------------------------- */

/* A JSON value as text for a page: strings as they are, the rest as JSON. */
static int
esc_value(struct pv_buf *b, const json_t *value)
{
    char *s;
    int rc;

    if (json_is_string(value))
        return pv_buf_markup(b, json_string_value(value));
    if ((s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
        return PV_ENOMEM;
    rc = pv_buf_markup(b, s);
    pv_wipe(s, strlen(s));
    free(s);
    return rc;
}

/* Append fmt with every %s argument escaped: only %s is allowed in fmt. */
static int
html(struct pv_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    for (const char *s = fmt; rc == 0 && *s; s++) {
        if (s[0] == '%' && s[1] == 's') {
            rc = pv_buf_markup(b, va_arg(ap, const char *));
            s++;
        } else {
            rc = pv_buf_append(b, s, 1);
        }
    }
    va_end(ap);
    return rc;
}

static const char *
str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

static int
record_html(struct pv_buf *b, const json_t *rec)
{
    const json_t *fields = json_object_get(rec, "fields"), *f, *list, *e;
    const char *name;
    size_t i;
    int rc;

    rc = html(b,
              "<section class=\"record\"><h3>Record %s</h3><p class=\"meta\">Created %s, updated "
              "%s; source: %s</p><table><thead><tr><th>Field</th><th>Value</th><th>Category"
              "</th></tr></thead><tbody>",
              str(rec, "id"), str(rec, "created"), str(rec, "updated"), str(rec, "source"));
    json_object_foreach((json_t *)fields, name, f)
    {
        if (rc == 0)
            rc = html(b, "<tr><td>%s</td><td>", name);
        if (rc == 0)
            rc = esc_value(b, json_object_get(f, "value"));
        if (rc == 0)
            rc = html(b, "</td><td>%s</td></tr>", str(f, "category"));
    }
    if (rc == 0)
        rc = pv_buf_puts(b, "</tbody></table>");
    list = json_object_get(rec, "withheld");
    if (rc == 0 && json_array_size(list)) {
        rc = pv_buf_puts(b, "<p class=\"withheld\">Not shown for this purpose:");
        json_array_foreach(list, i, e)
        {
            if (rc == 0)
                rc = html(b, " %s", json_string_value(e));
        }
        if (rc == 0)
            rc = pv_buf_puts(b, "</p>");
    }
    list = json_object_get(rec, "history");
    json_array_foreach(list, i, e)
    {
        if (rc == 0)
            rc = html(b, "<p class=\"history\">Earlier value of %s, replaced %s: ", str(e, "field"),
                      str(e, "replaced_at"));
        if (rc == 0)
            rc = esc_value(b, json_object_get(e, "value"));
        if (rc == 0)
            rc = pv_buf_puts(b, "</p>");
    }
    list = json_object_get(rec, "statements");
    json_array_foreach(list, i, e)
    {
        if (rc == 0)
            rc = html(b,
                      "<blockquote class=\"statement\"><p>Statement of disagreement, filed %s:"
                      "</p><p>%s</p></blockquote>",
                      str(e, "filed_at"), str(e, "statement"));
    }
    if (rc == 0)
        rc = pv_buf_puts(b, "</section>");
    return rc;
}

/* How the person asked to be contacted, and the addresses of their own. */
static int
prefs_html(struct pv_buf *b, const json_t *prefs)
{
    const json_t *chs = json_object_get(prefs, "channels"), *e;
    const json_t *adr = json_object_get(prefs, "addresses");
    const char *key;
    size_t i;
    int rc;

    rc = pv_buf_puts(b, "<h2>How you asked to be contacted</h2><p>");
    if (rc == 0 && !json_is_array(chs))
        rc = pv_buf_puts(b, "No choice made: every channel.");
    json_array_foreach(chs, i, e)
    {
        if (rc == 0)
            rc = html(b, i ? ", %s" : "%s", json_string_value(e));
    }
    if (rc == 0)
        rc = pv_buf_puts(b, "</p>");
    json_object_foreach((json_t *)adr, key, e)
    {
        if (rc == 0)
            rc = html(b, "<p>%s: %s</p>", key, json_string_value(e));
    }
    return rc;
}

char *
pv_export_html(const struct pv_policy *p, const json_t *exp)
{
    const json_t *subject = json_object_get(exp, "subject"), *cols, *recs, *rec, *e;
    const json_t *ledger = json_object_get(json_object_get(exp, "consents"), "entries");
    const char *name;
    struct pv_buf b;
    size_t i;
    int rc;

    (void)p;
    pv_buf_init(&b, (size_t)64 * 1024 * 1024);
    rc = html(&b,
              "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
              "name=\"viewport\" content=\"width=device-width\"><title>The data %s holds on you"
              "</title><style>body{font-family:serif;max-width:50em;margin:2em auto;padding:0 "
              "1em}table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px "
              "solid #888;padding:.25em .5em;text-align:left;vertical-align:top}.meta,.withheld,"
              ".history{color:#444}section.record{page-break-inside:avoid}@media print{body{"
              "margin:0}}</style></head><body><h1>The data %s holds on you</h1><p>Person %s; "
              "enrolled %s; status %s. This copy was made %s under policy version %s.</p>",
              str(json_object_get(exp, "organization"), "name"),
              str(json_object_get(exp, "organization"), "name"), str(subject, "id"),
              str(subject, "enrolled_at"), str(subject, "status"), str(exp, "generated_at"),
              str(exp, "policy_version"));
    cols = json_object_get(exp, "collections");
    json_object_foreach((json_t *)cols, name, recs)
    {
        if (rc == 0)
            rc = html(&b, "<h2>%s</h2>", name);
        if (rc == 0 && json_array_size(recs) == 0)
            rc = pv_buf_puts(&b, "<p>Nothing held.</p>");
        json_array_foreach(recs, i, rec)
        {
            if (rc == 0)
                rc = record_html(&b, rec);
        }
    }
    if (rc == 0 && json_array_size(json_object_get(exp, "withheld_collections"))) {
        rc = pv_buf_puts(&b, "<p class=\"withheld\">Not part of this copy (the purpose does not "
                             "cover them):");
        json_array_foreach(json_object_get(exp, "withheld_collections"), i, e)
        {
            if (rc == 0)
                rc = html(&b, " %s", json_string_value(e));
        }
        if (rc == 0)
            rc = pv_buf_puts(&b, "</p>");
    }
    if (rc == 0)
        rc = prefs_html(&b, json_object_get(exp, "contact_preferences"));
    if (rc == 0)
        rc = pv_buf_puts(&b, "<h2>Consents</h2><table><thead><tr><th>Time</th><th>Kind</th>"
                             "<th>Action</th><th>Source</th></tr></thead><tbody>");
    json_array_foreach(ledger, i, e)
    {
        if (rc == 0)
            rc = html(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", str(e, "time"),
                      str(e, "kind"), str(e, "action"), str(e, "source"));
    }
    if (rc == 0)
        rc = pv_buf_puts(&b, "</tbody></table></body></html>\n");
    if (rc != 0) {
        if (b.data)
            pv_wipe(b.data, b.len);
        pv_buf_fini(&b);
        return NULL;
    }
    return b.data;
}
