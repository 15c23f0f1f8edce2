/*
 * load.c: the policy loader.
 *
 * libyaml builds the document tree (every node keeps its line and column);
 * the walkers below check it against the policy's shape in dependency order
 * (categories before collections, roles and consents before purposes) and
 * report every problem as FILE:LINE:COLUMN: what was expected. Nothing of a
 * partly valid policy escapes: on any error the whole policy is freed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "crypto/crypto.h"
#include "policy/policy_int.h"

#define MAX_ERRORS 100
#define MAX_POLICY_BYTES ((size_t)1024 * 1024)

typedef yaml_node_t node_t;

struct ctx {
    const char *name; /* file name for messages */
    yaml_document_t doc;
    struct pv_buf *errors;
    int nerrors;
    struct pv_policy *p;
    struct pv_arena *a;
    int oom;
    node_t *authorizes[PV_MAX_CONSENTS]; /* consent kind i's authorizes list, resolved later */
    node_t *kind_nodes[PV_MAX_CONSENTS]; /* where consent kind i is named, for messages */
};

static void err(struct ctx *c, const node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err(struct ctx *c, const node_t *n, const char *fmt, ...)
{
    va_list ap;
    size_t line = n ? n->start_mark.line + 1 : 1, col = n ? n->start_mark.column + 1 : 1, start;

    c->nerrors++;
    if (c->errors == NULL || c->nerrors > MAX_ERRORS)
        return;
    pv_buf_printf(c->errors, "%s:%zu:%zu: ", c->name, line, col);
    start = c->errors->len;
    va_start(ap, fmt);
    pv_buf_vprintf(c->errors, fmt, ap);
    va_end(ap);
    /*
     * Messages quote the file's own text (an unknown key): a control character in it
     * (a CR, a newline in a quoted key) must not break one problem per line.
     */
    for (size_t i = start; c->errors->data && i < c->errors->len; i++)
        if ((unsigned char)c->errors->data[i] < 0x20 || c->errors->data[i] == 0x7f)
            c->errors->data[i] = '?';
    pv_buf_puts(c->errors, "\n");
}

static node_t *
node(struct ctx *c, int i)
{
    return yaml_document_get_node(&c->doc, i);
}

static const char *
sval(const node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int
is_null(const node_t *n)
{
    const char *s = sval(n);

    return n == NULL || (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                         (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0));
}

static int
want_map(struct ctx *c, const node_t *n, const char *what)
{
    if (n && n->type == YAML_MAPPING_NODE)
        return 1;
    err(c, n, "expected a mapping for %s", what);
    return 0;
}

static int
want_seq(struct ctx *c, const node_t *n, const char *what)
{
    if (n && n->type == YAML_SEQUENCE_NODE)
        return 1;
    err(c, n, "expected a list for %s", what);
    return 0;
}

static char *
dup(struct ctx *c, const char *s)
{
    char *p = pv_arena_strndup(c->a, s, strlen(s));

    if (p == NULL)
        c->oom = 1;
    return p;
}

static void *
alloc(struct ctx *c, size_t n)
{
    void *p = pv_arena_alloc(c->a, n ? n : 1);

    if (p == NULL)
        c->oom = 1;
    return p;
}

/* Number of pairs of a mapping node. */
static int
map_len(const node_t *m)
{
    return (int)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static int
seq_len(const node_t *s)
{
    return (int)(s->data.sequence.items.top - s->data.sequence.items.start);
}

/*
 * Check that every key of mapping m is a scalar among allowed (NULL-ended;
 * allowed NULL accepts any key) and appears once.
 */
static void
check_keys(struct ctx *c, const node_t *m, const char *const *allowed, const char *what)
{
    yaml_node_pair_t *pr, *q;
    struct pv_buf list;
    const char *k;
    int ok;

    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key);
        if ((k = sval(kn)) == NULL) {
            err(c, kn, "expected a plain key in %s", what);
            continue;
        }
        for (q = m->data.mapping.pairs.start; q < pr; q++)
            if (sval(node(c, q->key)) && strcmp(sval(node(c, q->key)), k) == 0) {
                err(c, kn, "duplicate key '%s' in %s", k, what);
                break;
            }
        if (allowed == NULL)
            continue;
        ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0)
                ok = 1;
        if (!ok) {
            pv_buf_init(&list, 1024);
            for (const char *const *a = allowed; *a; a++)
                pv_buf_printf(&list, "%s%s", a == allowed ? "" : ", ", *a);
            err(c, kn, "unknown key '%s' in %s; expected one of: %s", k, what,
                list.data ? list.data : "");
            pv_buf_fini(&list);
        }
    }
}

/* The value node of key in mapping m, or NULL. */
static node_t *
get(struct ctx *c, const node_t *m, const char *key)
{
    yaml_node_pair_t *pr;

    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        const char *k = sval(node(c, pr->key));
        if (k && strcmp(k, key) == 0)
            return node(c, pr->value);
    }
    return NULL;
}

static node_t *
need(struct ctx *c, const node_t *m, const char *key, const char *what)
{
    node_t *v = get(c, m, key);

    if (v == NULL)
        err(c, m, "missing required key '%s' in %s", key, what);
    return v;
}

static int
get_bool(struct ctx *c, const node_t *n, const char *what, int *out)
{
    const char *s = sval(n);

    if (s && strcmp(s, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (s && strcmp(s, "false") == 0) {
        *out = 0;
        return 1;
    }
    err(c, n, "expected true or false for %s", what);
    return 0;
}

static int
get_int(struct ctx *c, const node_t *n, int min, int max, const char *what, int *out)
{
    const char *s = sval(n);
    int64_t v;

    if (s && pv_parse_i64(s, min, max, &v) == 0) {
        *out = (int)v;
        return 1;
    }
    err(c, n, "expected an integer from %d to %d for %s", min, max, what);
    return 0;
}

static const char *
get_text(struct ctx *c, const node_t *n, const char *what)
{
    const char *s = sval(n);

    if (s == NULL || *s == '\0' || is_null(n)) {
        err(c, n, "expected text for %s", what);
        return NULL;
    }
    return dup(c, s);
}

/* A name: a lowercase letter then lowercase letters, digits, '_' or '-'. */
static int
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= PV_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static const char *
get_name(struct ctx *c, const node_t *n, const char *what)
{
    const char *s = sval(n);

    if (s == NULL || !valid_name(s)) {
        err(c, n,
            "expected a name (a lowercase letter, then lowercase letters, digits, '_' or "
            "'-', at most %d) for %s",
            PV_NAME_MAX - 1, what);
        return NULL;
    }
    return dup(c, s);
}

/* A fideslang key: user or system, then dot-separated names. */
static int
valid_category_key(const char *s)
{
    char part[PV_NAME_MAX];
    const char *dot;
    size_t n;
    int first = 1;

    if (strlen(s) > 200)
        return 0;
    for (;;) {
        dot = strchr(s, '.');
        n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n >= sizeof part)
            return 0;
        memcpy(part, s, n);
        part[n] = '\0';
        if (!valid_name(part) || strchr(part, '-'))
            return 0;
        if (first && strcmp(part, "user") != 0 && strcmp(part, "system") != 0)
            return 0;
        first = 0;
        if (dot == NULL)
            return 1;
        s = dot + 1;
    }
}

static const char *
get_category_key(struct ctx *c, const node_t *n, const char *what)
{
    const char *s = sval(n);

    if (s == NULL || !valid_category_key(s)) {
        err(c, n, "expected a fideslang category key such as user.contact.email for %s", what);
        return NULL;
    }
    return dup(c, s);
}

/* "30d", "13mo", "7y", "account", "forever". */
static int
parse_duration(const char *s, struct pv_retention *r)
{
    char unit[3] = {0};
    int64_t n;
    size_t i = 0, ulen;

    if (strcmp(s, "account") == 0) {
        r->unit = PV_RET_ACCOUNT;
        r->n = 0;
        return 0;
    }
    if (strcmp(s, "forever") == 0) {
        r->unit = PV_RET_FOREVER;
        r->n = 0;
        return 0;
    }
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    ulen = strlen(s + i);
    if (i == 0 || i > 5 || ulen == 0 || ulen > 2)
        return PV_EINVAL;
    memcpy(unit, s + i, ulen);
    {
        char num[6];
        memcpy(num, s, i);
        num[i] = '\0';
        if (pv_parse_i64(num, 1, 36500, &n) != 0)
            return PV_EINVAL;
    }
    if (strcmp(unit, "d") == 0)
        r->unit = PV_RET_DAYS;
    else if (strcmp(unit, "mo") == 0)
        r->unit = PV_RET_MONTHS;
    else if (strcmp(unit, "y") == 0)
        r->unit = PV_RET_YEARS;
    else
        return PV_EINVAL;
    r->n = (int)n;
    return 0;
}

/* A list of strings, each checked by kind: 'n' name, 'c' category key. */
static const char **
get_list(struct ctx *c, const node_t *n, const char *what, char kind, int *count)
{
    const char **out;
    int i = 0;

    *count = 0;
    if (!want_seq(c, n, what))
        return NULL;
    out = alloc(c, sizeof *out * (size_t)(seq_len(n) + 1));
    if (out == NULL)
        return NULL;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        node_t *v = node(c, *it);
        const char *s = kind == 'c' ? get_category_key(c, v, what) : get_name(c, v, what);
        if (s == NULL)
            continue;
        for (int j = 0; j < i; j++)
            if (strcmp(out[j], s) == 0) {
                err(c, v, "'%s' appears twice in %s", s, what);
                s = NULL;
                break;
            }
        if (s)
            out[i++] = s;
    }
    *count = i;
    return out;
}

/* ---- sections ------------------------------------------------------------ */

static void
load_organization(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"name", "role", "contact", "complaints", NULL};
    static const char *const ckeys[] = {"email", "phone", "address", NULL};
    struct pv_policy *p = c->p;
    node_t *v, *ct;

    if (!want_map(c, m, "organization"))
        return;
    check_keys(c, m, keys, "organization");
    if ((v = need(c, m, "name", "organization")))
        p->org.name = get_text(c, v, "organization.name");
    if ((v = need(c, m, "role", "organization"))) {
        const char *s = sval(v);
        if (s && (strcmp(s, "covered_entity") == 0 || strcmp(s, "business_associate") == 0))
            p->org.role = dup(c, s);
        else
            err(c, v, "expected covered_entity or business_associate for organization.role");
    }
    if ((ct = get(c, m, "contact")) && want_map(c, ct, "organization.contact")) {
        check_keys(c, ct, ckeys, "organization.contact");
        if ((v = get(c, ct, "email")))
            p->org.email = get_text(c, v, "organization.contact.email");
        if ((v = get(c, ct, "phone")))
            p->org.phone = get_text(c, v, "organization.contact.phone");
        if ((v = get(c, ct, "address")))
            p->org.address = get_text(c, v, "organization.contact.address");
    }
    if ((v = get(c, m, "complaints")))
        p->org.complaints = get_list(c, v, "organization.complaints", 'n', &p->org.ncomplaints);
}

/* from and disposal of a category; its consent is linked once consents are loaded. */
static void
load_category_disposal(struct ctx *c, struct pv_category *cat, const node_t *vn)
{
    static const char *const froms[] = {"created", "closed", "last_visit"};
    static const char *const disposals[] = {"purge", "anonymize"};
    const char *s;
    node_t *v;
    size_t i;

    cat->consent = -1;
    if ((v = get(c, vn, "from"))) {
        s = sval(v);
        for (i = 0; s && i < PV_ARRAY_LEN(froms); i++)
            if (strcmp(s, froms[i]) == 0)
                break;
        if (s == NULL || i == PV_ARRAY_LEN(froms))
            err(c, v, "expected created, closed or last_visit for from");
        else if (cat->retention.unit == PV_RET_ACCOUNT || cat->retention.unit == PV_RET_FOREVER)
            err(c, v,
                "from applies to a retention period such as 7y; account and forever count from "
                "no event");
        else
            cat->retention.from = (enum pv_ret_from)i;
    }
    if ((v = get(c, vn, "disposal"))) {
        s = sval(v);
        for (i = 0; s && i < PV_ARRAY_LEN(disposals); i++)
            if (strcmp(s, disposals[i]) == 0)
                break;
        if (s == NULL || i == PV_ARRAY_LEN(disposals))
            err(c, v, "expected purge or anonymize for disposal");
        else
            cat->disposal = (enum pv_disposal)i;
    }
    /* What retention keeps by law a deletion request keeps too, unless the policy says the
     * period is only the longest the service keeps it. */
    cat->deletion_keep = cat->retention.unit != PV_RET_ACCOUNT;
    if ((v = get(c, vn, "deletion"))) {
        s = sval(v);
        if (s && strcmp(s, "dispose") == 0)
            cat->deletion_keep = 0;
        else if (s == NULL || strcmp(s, "keep") != 0)
            err(c, v, "expected keep or dispose for deletion");
        else if (cat->retention.unit == PV_RET_ACCOUNT)
            err(c, v,
                "deletion: keep needs a retention period or forever; values kept while the account "
                "is open go when a deletion closes it");
    }
}

/*
 * What categories name of later sections: the consent kind a category needs
 * (consents load after categories) and the visit collection that retention
 * counted from last_visit relies on.
 */
static void
link_categories(struct ctx *c, const node_t *m)
{
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;

    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *vn = node(c, pr->value), *v;
        const char *key = sval(node(c, pr->key));
        int ci = key ? pv_policy_category(p, key) : -1;
        struct pv_category *cat;

        if (ci < 0)
            continue;
        cat = &p->categories[ci];
        if ((v = get(c, vn, "consent"))) {
            const char *kind = get_name(c, v, "consent");
            if (kind && (cat->consent = pv_policy_consent(p, kind)) < 0)
                err(c, v, "consent '%s' is not declared under consents", kind);
        }
        if ((v = get(c, vn, "from")) && cat->retention.from == PV_FROM_LAST_VISIT &&
            p->visit_collection < 0)
            err(c, v,
                "category %s counts from last_visit, but the policy names no visit_collection",
                key);
    }
}

/* The collection usage holds usage data: never health data, never kept for good. */
static void
check_usage(struct ctx *c, const node_t *m)
{
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr, *fp;
    char ret[16];

    if ((p->usage = pv_policy_collection(p, "usage")) < 0 || m->type != YAML_MAPPING_NODE)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *vn = node(c, pr->value);
        const char *name = sval(node(c, pr->key));

        if (name == NULL || strcmp(name, "usage") != 0 || vn->type != YAML_MAPPING_NODE)
            continue;
        for (fp = vn->data.mapping.pairs.start; fp < vn->data.mapping.pairs.top; fp++) {
            node_t *fv = node(c, fp->value);
            const char *key = sval(fv);
            int ci = key ? pv_policy_category(p, key) : -1;
            const struct pv_category *cat;

            if (ci < 0)
                continue;
            cat = &p->categories[ci];
            pv_retention_format(&cat->retention, ret);
            if (cat->phi)
                err(c, fv,
                    "the usage collection holds usage data, never health data: category '%s' is "
                    "phi",
                    key);
            else if (cat->retention.unit == PV_RET_ACCOUNT || cat->retention.unit == PV_RET_FOREVER)
                err(c, fv,
                    "usage data needs a retention period such as 13mo: category '%s' is kept %s",
                    key, ret);
        }
    }
}

/*
 * End-to-end values belong to the records of a subject who exists: the profile is written at
 * enrollment, before anyone could hold a key for it, and usage data is kept de-identified.
 */
static void
check_end_to_end(struct ctx *c, const node_t *m)
{
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr, *fp;

    if (m->type != YAML_MAPPING_NODE)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *vn = node(c, pr->value);
        const char *name = sval(node(c, pr->key));

        if (name == NULL || (strcmp(name, "usage") != 0 && strcmp(name, "profile") != 0) ||
            vn->type != YAML_MAPPING_NODE)
            continue;
        for (fp = vn->data.mapping.pairs.start; fp < vn->data.mapping.pairs.top; fp++) {
            node_t *fv = node(c, fp->value);
            const char *key = sval(fv);
            int ci = key ? pv_policy_category(p, key) : -1;

            if (ci >= 0 && p->categories[ci].store == PV_STORE_E2E)
                err(c, fv, "the %s collection cannot hold category '%s', stored end_to_end", name,
                    key);
        }
    }
}

static void
load_categories(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"phi",      "retention", "index",    "store", "from",
                                       "disposal", "consent",   "deletion", NULL};
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;

    if (!want_map(c, m, "categories"))
        return;
    check_keys(c, m, NULL, "categories");
    p->categories = alloc(c, sizeof *p->categories * (size_t)map_len(m));
    if (p->categories == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value), *v;
        struct pv_category *cat = &p->categories[p->ncategories];
        const char *key = get_category_key(c, kn, "a category");
        char what[256];

        if (key == NULL || pv_policy_category(p, key) >= 0)
            continue;
        (void)snprintf(what, sizeof what, "category %s", key);
        if (!want_map(c, vn, what))
            continue;
        check_keys(c, vn, keys, what);
        cat->key = key;
        if ((v = get(c, vn, "phi")))
            get_bool(c, v, "phi", &cat->phi);
        if ((v = get(c, vn, "index")))
            get_bool(c, v, "index", &cat->index);
        if ((v = get(c, vn, "store"))) {
            const char *s = sval(v);
            if (s && strcmp(s, "full") == 0)
                cat->store = PV_STORE_FULL;
            else if (s && strcmp(s, "last4") == 0)
                cat->store = PV_STORE_LAST4;
            else if (s && strcmp(s, "end_to_end") == 0)
                cat->store = PV_STORE_E2E;
            else
                err(c, v, "expected full, last4 or end_to_end for store");
        }
        if ((v = need(c, vn, "retention", what))) {
            const char *s = sval(v);
            if (s == NULL || parse_duration(s, &cat->retention) != 0)
                err(c, v, "expected a retention such as 30d, 13mo, 7y, account or forever");
        }
        load_category_disposal(c, cat, vn);
        /* The server never sees the plaintext of an end-to-end value: it cannot derive a blind
         * index from it, nor keep a de-identified copy of it. */
        if (cat->store == PV_STORE_E2E && (cat->index || cat->disposal == PV_DISPOSE_ANONYMIZE))
            err(c, vn,
                "category %s is stored end_to_end: it can have no index and no anonymize "
                "disposal, since the server never reads its values",
                key);
        p->ncategories++;
    }
}

static void
load_collections(struct ctx *c, const node_t *m)
{
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr, *fp;

    if (!want_map(c, m, "collections"))
        return;
    check_keys(c, m, NULL, "collections");
    p->collections = alloc(c, sizeof *p->collections * (size_t)map_len(m));
    if (p->collections == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value);
        struct pv_collection *col = &p->collections[p->ncollections];
        const char *name = get_name(c, kn, "a collection");
        char what[128];

        if (name == NULL || pv_policy_collection(p, name) >= 0)
            continue;
        (void)snprintf(what, sizeof what, "collection %s", name);
        if (!want_map(c, vn, what))
            continue;
        check_keys(c, vn, NULL, what);
        if (map_len(vn) == 0 || map_len(vn) > PV_MAX_FIELDS) {
            err(c, vn, "expected from 1 to %d fields in %s", PV_MAX_FIELDS, what);
            continue;
        }
        col->name = name;
        col->fields = alloc(c, sizeof *col->fields * (size_t)map_len(vn));
        if (col->fields == NULL)
            return;
        for (fp = vn->data.mapping.pairs.start; fp < vn->data.mapping.pairs.top; fp++) {
            node_t *fk = node(c, fp->key), *fv = node(c, fp->value);
            const char *fname = get_name(c, fk, "a field");
            const char *ckey = get_category_key(c, fv, "a field's category");
            int ci;

            if (fname == NULL || ckey == NULL || pv_policy_field(col, fname) >= 0)
                continue;
            if ((ci = pv_policy_category(p, ckey)) < 0) {
                err(c, fv, "category '%s' is not declared under categories", ckey);
                continue;
            }
            col->fields[col->nfields].name = fname;
            col->fields[col->nfields].category = ci;
            col->nfields++;
        }
        p->ncollections++;
    }
}

/* Roles of the list form get the scope and powers their well-known names imply. */
static const struct pv_role known_roles[] = {
    {"patient", PV_SCOPE_SELF, 0},
    {"provider", PV_SCOPE_ASSIGNED, 0},
    {"staff", PV_SCOPE_ALL, PV_POWER_ASSIGN},
    {"privacy_officer", PV_SCOPE_ALL,
     PV_POWER_AUDIT | PV_POWER_REVIEW | PV_POWER_RESTRICT | PV_POWER_HOLDS | PV_POWER_RIGHTS},
    {"admin", PV_SCOPE_NONE, PV_POWER_USERS},
};

static void
load_role_map(struct ctx *c, struct pv_role *r, const node_t *vn)
{
    static const char *const keys[] = {"scope", "powers", NULL};
    static const char *const scopes[] = {"none", "self", "assigned", "all"};
    static const char *const powers[] = {"users",    "audit", "assign", "review",
                                         "restrict", "holds", "rights"};
    char what[128];
    node_t *v;

    (void)snprintf(what, sizeof what, "role %s", r->name);
    if (!want_map(c, vn, what))
        return;
    check_keys(c, vn, keys, what);
    if ((v = need(c, vn, "scope", what))) {
        const char *s = sval(v);
        size_t i;
        for (i = 0; s && i < PV_ARRAY_LEN(scopes); i++)
            if (strcmp(s, scopes[i]) == 0)
                break;
        if (s == NULL || i == PV_ARRAY_LEN(scopes))
            err(c, v, "expected none, self, assigned or all for scope");
        else
            r->scope = (enum pv_scope)i;
    }
    if ((v = get(c, vn, "powers"))) {
        int n;
        const char **list = get_list(c, v, "powers", 'n', &n);
        for (int i = 0; list && i < n; i++) {
            size_t j;
            for (j = 0; j < PV_ARRAY_LEN(powers); j++)
                if (strcmp(list[i], powers[j]) == 0)
                    break;
            if (j == PV_ARRAY_LEN(powers))
                err(c, node(c, v->data.sequence.items.start[i]),
                    "expected users, audit, assign, review, restrict, holds or rights for a power");
            else
                r->powers |= 1u << j;
        }
    }
}

static void
load_roles(struct ctx *c, const node_t *n)
{
    struct pv_policy *p = c->p;
    int count;

    if (n->type == YAML_SEQUENCE_NODE) {
        count = seq_len(n);
    } else if (n->type == YAML_MAPPING_NODE) {
        check_keys(c, n, NULL, "roles");
        count = map_len(n);
    } else {
        err(c, n, "expected a list or a mapping for roles");
        return;
    }
    if (count == 0 || count > PV_MAX_ROLES) {
        err(c, n, "expected from 1 to %d roles", PV_MAX_ROLES);
        return;
    }
    if ((p->roles = alloc(c, sizeof *p->roles * (size_t)count)) == NULL)
        return;
    for (int i = 0; i < count; i++) {
        node_t *kn, *vn = NULL;
        struct pv_role *r = &p->roles[p->nroles];
        const char *name;
        size_t k;

        if (n->type == YAML_SEQUENCE_NODE) {
            kn = node(c, n->data.sequence.items.start[i]);
        } else {
            kn = node(c, n->data.mapping.pairs.start[i].key);
            vn = node(c, n->data.mapping.pairs.start[i].value);
        }
        if ((name = get_name(c, kn, "a role")) == NULL)
            continue;
        if (pv_policy_role(p, name) >= 0) {
            err(c, kn, "role '%s' is declared twice", name);
            continue;
        }
        r->name = name;
        if (vn) {
            load_role_map(c, r, vn);
        } else {
            for (k = 0; k < PV_ARRAY_LEN(known_roles); k++)
                if (strcmp(known_roles[k].name, name) == 0)
                    break;
            if (k == PV_ARRAY_LEN(known_roles)) {
                err(c, kn,
                    "role '%s' has no well-known scope; write roles as a mapping such as "
                    "{%s: {scope: assigned}}",
                    name, name);
                continue;
            }
            r->scope = known_roles[k].scope;
            r->powers = known_roles[k].powers;
        }
        p->nroles++;
    }
}

/* ---- consent kinds -------------------------------------------------------- */

/* One kind of the mapping form: {type, channel, default, authorizes, cookie, description}. */
static void
load_consent_kind(struct ctx *c, struct pv_consent_kind *k, int i, const node_t *vn)
{
    static const char *const keys[] = {"type",   "channel",     "default", "authorizes",
                                       "cookie", "description", NULL};
    const char *s;
    char what[128];
    node_t *v, *dv;

    (void)snprintf(what, sizeof what, "consent %s", k->name);
    if (!want_map(c, vn, what))
        return;
    check_keys(c, vn, keys, what);
    if ((v = need(c, vn, "type", what))) {
        int t = -1;
        s = sval(v);
        for (int j = 0; s && j < PV_CONSENT_TYPE_COUNT_; j++)
            if (strcmp(s, pv_consent_type_name((enum pv_consent_type)j)) == 0)
                t = j;
        if (t < 0)
            err(c, v,
                "expected policy, marketing, service, authorization, cookies, sale, research "
                "or other for type");
        else
            k->type = (enum pv_consent_type)t;
    }
    if ((v = get(c, vn, "description")))
        k->description = get_text(c, v, "description");
    if ((dv = get(c, vn, "default"))) {
        s = sval(dv);
        if (s && strcmp(s, "granted") == 0)
            k->default_granted = 1;
        else if (s == NULL || strcmp(s, "withdrawn") != 0)
            err(c, dv, "expected granted or withdrawn for default");
    }
    v = get(c, vn, "channel");
    if (k->type == PV_CONSENT_MARKETING || k->type == PV_CONSENT_SERVICE) {
        if (v == NULL)
            err(c, vn,
                "missing required key 'channel' in %s (marketing and service are per channel)",
                what);
        else if ((k->channel = pv_channel_parse(sval(v))) == PV_CH_NONE)
            err(c, v, "expected email, sms, phone or mail for channel");
    } else if (v) {
        err(c, v, "channel applies only to consents of type marketing or service");
    }
    v = get(c, vn, "cookie");
    if (k->type == PV_CONSENT_COOKIES) {
        if (v == NULL)
            err(c, vn, "missing required key 'cookie' in %s (the cookie category it covers)", what);
        else
            k->cookie = get_name(c, v, "cookie");
    } else if (v) {
        err(c, v, "cookie applies only to consents of type cookies");
    }
    v = get(c, vn, "authorizes");
    if (k->type == PV_CONSENT_AUTHORIZATION) {
        if (v == NULL)
            err(c, vn, "missing required key 'authorizes' in %s (the purposes it authorizes)",
                what);
        else if (want_seq(c, v, "authorizes"))
            c->authorizes[i] = v;
    } else if (v) {
        err(c, v, "authorizes applies only to consents of type authorization");
    }
    /* Some consents the law wants given, never presumed. */
    if (k->default_granted && dv) {
        if (k->type == PV_CONSENT_AUTHORIZATION || k->type == PV_CONSENT_POLICY)
            err(c, dv,
                "an authorization or a policy acceptance is never presumed: default must be "
                "withdrawn for %s",
                what);
        else if (k->type == PV_CONSENT_MARKETING &&
                 (k->channel == PV_CH_SMS || k->channel == PV_CH_PHONE))
            err(c, dv, "marketing by sms or phone needs opt-in: default must be withdrawn for %s",
                what);
    }
}

static void
load_consent_map(struct ctx *c, const node_t *m)
{
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;
    int n = map_len(m);

    check_keys(c, m, NULL, "consents");
    if (n >= PV_MAX_CONSENTS) {
        err(c, m, "expected at most %d consent kinds", PV_MAX_CONSENTS - 1);
        return;
    }
    /* One slot more for the policy-acceptance kind check_consents() may add. */
    p->consents = alloc(c, sizeof *p->consents * (size_t)(n + 1));
    p->consent_kinds = alloc(c, sizeof *p->consent_kinds * (size_t)(n + 1));
    if (p->consents == NULL || p->consent_kinds == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value);
        const char *name = get_name(c, kn, "a consent kind");
        struct pv_consent_kind *k = &p->consent_kinds[p->nconsents];

        if (name == NULL || pv_policy_consent(p, name) >= 0)
            continue;
        k->name = name;
        k->channel = PV_CH_NONE;
        c->kind_nodes[p->nconsents] = kn;
        p->consents[p->nconsents] = name;
        load_consent_kind(c, k, p->nconsents, vn);
        p->nconsents++;
    }
}

/* The list form names kinds only: each is of type other, held once granted. */
static void
consent_kinds_of_list(struct ctx *c, const node_t *n)
{
    struct pv_policy *p = c->p;

    p->consent_kinds = alloc(c, sizeof *p->consent_kinds * (size_t)(p->nconsents + 1));
    for (int i = 0; p->consent_kinds && i < p->nconsents; i++) {
        p->consent_kinds[i].name = p->consents[i];
        p->consent_kinds[i].channel = PV_CH_NONE;
        c->kind_nodes[i] = node(c, n->data.sequence.items.start[i]);
    }
}

/* The purposes an authorization names, once purposes are loaded. */
static void
resolve_authorizes(struct ctx *c, struct pv_consent_kind *k, const node_t *v)
{
    int n, *ids;
    const char **names = get_list(c, v, "authorizes", 'n', &n);

    if (names == NULL)
        return;
    if (n == 0) {
        err(c, v, "expected at least one purpose in authorizes");
        return;
    }
    if ((ids = alloc(c, sizeof *ids * (size_t)n)) == NULL)
        return;
    for (int j = 0; j < n; j++) {
        int u = pv_policy_purpose(c->p, names[j]);
        if (u < 0)
            err(c, node(c, v->data.sequence.items.start[j]),
                "purpose '%s' is not declared under purposes", names[j]);
        else
            ids[k->nauthorizes++] = u;
    }
    k->authorizes = ids;
}

/*
 * Rules across sections, checked once everything is loaded: authorizations
 * name declared purposes; one kind records policy acceptance (added, named
 * "policy", when none is declared); SMS consents need the SMS program that
 * answers STOP and HELP; channels must be offered; one kind per cookie
 * category.
 */
static void
check_consents(struct ctx *c, const node_t *root)
{
    struct pv_policy *p = c->p;
    const node_t *where = get(c, root, "consents");
    int policy_kind = -1;

    if (where == NULL)
        where = root;
    if (p->nconsents > 0 && p->consent_kinds == NULL)
        return; /* out of memory, already noted */
    for (int i = 0; i < p->nconsents; i++) {
        struct pv_consent_kind *k = &p->consent_kinds[i];
        const node_t *at = c->kind_nodes[i] ? c->kind_nodes[i] : where;
        if (c->authorizes[i])
            resolve_authorizes(c, k, c->authorizes[i]);
        if (k->type == PV_CONSENT_POLICY) {
            if (policy_kind >= 0)
                err(c, at, "only one consent kind may have type policy ('%s' and '%s' do)",
                    p->consents[policy_kind], k->name);
            policy_kind = i;
        }
        if (k->channel == PV_CH_SMS && p->sms.program == NULL)
            err(c, at,
                "consent '%s' is on channel sms, so communications.sms (program and help) is "
                "required: STOP and HELP must be answered",
                k->name);
        if (k->channel >= 0 && !(p->channels & (1u << k->channel)))
            err(c, at, "consent '%s' is on channel %s, which communications.channels leaves out",
                k->name, pv_channel_name(k->channel));
        for (int j = 0; k->cookie && j < i; j++)
            if (p->consent_kinds[j].cookie && strcmp(p->consent_kinds[j].cookie, k->cookie) == 0)
                err(c, at, "cookie category '%s' has two consent kinds ('%s' and '%s')", k->cookie,
                    p->consents[j], k->name);
    }
    if (policy_kind < 0) {
        int named = pv_policy_consent(p, "policy");
        if (named >= 0) {
            err(c, c->kind_nodes[named] ? c->kind_nodes[named] : where,
                "the consent kind 'policy' is reserved for policy acceptance; give it type policy");
            return;
        }
        if (p->consents == NULL) {
            p->consents = alloc(c, sizeof *p->consents);
            p->consent_kinds = alloc(c, sizeof *p->consent_kinds);
            if (p->consents == NULL || p->consent_kinds == NULL)
                return;
        }
        policy_kind = p->nconsents++;
        p->consents[policy_kind] = "policy";
        p->consent_kinds[policy_kind].name = "policy";
        p->consent_kinds[policy_kind].type = PV_CONSENT_POLICY;
        p->consent_kinds[policy_kind].channel = PV_CH_NONE;
    }
    p->policy_kind = policy_kind;
}

/* A purpose is marketing if it says so, is named so, or needs a marketing consent. */
static void
purpose_marketing(struct ctx *c, struct pv_purpose *u, const node_t *vn)
{
    const struct pv_policy *p = c->p;
    node_t *v = get(c, vn, "marketing");
    int flag = -1, implied = strcmp(u->key, "marketing") == 0;

    for (int k = 0; p->consent_kinds && k < p->nconsents; k++)
        if ((u->requires & (UINT64_C(1) << k)) && p->consent_kinds[k].type == PV_CONSENT_MARKETING)
            implied = 1;
    if (v && get_bool(c, v, "marketing", &flag) && flag == 0 && implied)
        err(c, v,
            "purpose %s is marketing (by its name or the marketing consent it requires); "
            "marketing: false cannot change that",
            u->key);
    u->marketing = flag == 1 || implied;
}

/*
 * basis, deidentified and sale of a purpose, and what cannot be right with
 * them: a basis is for a purpose that is neither TPO nor marketing (TPO needs
 * none, marketing always needs an authorization); answering the person
 * (basis: person) is for roles that act for themselves or handle rights
 * requests; a de-identified purpose has no basis for identified data and is
 * no TPO; a sale needs a consent of type sale to opt out of, and is never a
 * use the law requires or one answering the person.
 */
static void
purpose_basis(struct ctx *c, struct pv_purpose *u, const node_t *vn)
{
    static const char *const bases[] = {"law", "person"};
    const struct pv_policy *p = c->p;
    node_t *v;
    int sale_kind = 0;

    if ((v = get(c, vn, "basis"))) {
        const char *s = sval(v);
        size_t i;
        for (i = 0; s && i < PV_ARRAY_LEN(bases); i++)
            if (strcmp(s, bases[i]) == 0)
                break;
        if (s == NULL || i == PV_ARRAY_LEN(bases))
            err(c, v, "expected law or person for basis");
        else if (u->tpo)
            err(c, v, "purpose %s is tpo: it needs no other basis", u->key);
        else if (u->marketing)
            err(c, v,
                "purpose %s is marketing: it reaches health data only under a written "
                "authorization, never on a basis",
                u->key);
        else
            u->basis = i == 0 ? PV_BASIS_LAW : PV_BASIS_PERSON;
        for (int r = 0; u->basis == PV_BASIS_PERSON && r < p->nroles; r++)
            if ((u->roles & (1u << r)) && p->roles[r].scope != PV_SCOPE_SELF &&
                !(p->roles[r].powers & PV_POWER_RIGHTS))
                err(c, v,
                    "basis person answers the person: role %s neither acts for itself nor has "
                    "the rights power",
                    p->roles[r].name);
    }
    if ((v = get(c, vn, "deidentified")) && get_bool(c, v, "deidentified", &u->deidentified) &&
        u->deidentified && (u->tpo || u->basis != PV_BASIS_NONE))
        err(c, v, "purpose %s is de-identified only: it cannot also be tpo or have a basis",
            u->key);
    if ((v = get(c, vn, "sale")) && get_bool(c, v, "sale", &u->sale) && u->sale) {
        for (int k = 0; p->consent_kinds && k < p->nconsents; k++)
            sale_kind |= p->consent_kinds[k].type == PV_CONSENT_SALE;
        if (u->tpo || u->basis != PV_BASIS_NONE)
            err(c, v, "purpose %s is a sale: it cannot be tpo or have a basis", u->key);
        else if (!sale_kind)
            err(c, v, "purpose %s is a sale: declare a consent of type sale, the person's opt-out",
                u->key);
    }
}

static void
load_consents(struct ctx *c, const node_t *n)
{
    if (n->type == YAML_MAPPING_NODE) {
        load_consent_map(c, n);
        return;
    }
    c->p->consents = get_list(c, n, "consents", 'n', &c->p->nconsents);
    if (c->p->nconsents >= PV_MAX_CONSENTS)
        err(c, n, "expected at most %d consent kinds", PV_MAX_CONSENTS - 1);
    else
        consent_kinds_of_list(c, n);
}

static void
load_purposes(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"description", "tpo",       "roles", "categories",
                                       "requires",    "marketing", "basis", "deidentified",
                                       "sale",        NULL};
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;

    if (!want_map(c, m, "purposes"))
        return;
    check_keys(c, m, NULL, "purposes");
    if ((p->purposes = alloc(c, sizeof *p->purposes * (size_t)map_len(m))) == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value), *v;
        struct pv_purpose *u = &p->purposes[p->npurposes];
        const char *key = get_name(c, kn, "a purpose");
        char what[128];
        int n;

        if (key == NULL || pv_policy_purpose(p, key) >= 0)
            continue;
        (void)snprintf(what, sizeof what, "purpose %s", key);
        if (!want_map(c, vn, what))
            continue;
        check_keys(c, vn, keys, what);
        u->key = key;
        if ((v = get(c, vn, "description")))
            u->description = get_text(c, v, "description");
        if ((v = get(c, vn, "tpo")))
            get_bool(c, v, "tpo", &u->tpo);
        if ((v = need(c, vn, "roles", what))) {
            const char **roles = get_list(c, v, "roles", 'n', &n);
            for (int i = 0; roles && i < n; i++) {
                int ri = pv_policy_role(p, roles[i]);
                if (ri < 0)
                    err(c, node(c, v->data.sequence.items.start[i]),
                        "role '%s' is not declared under roles", roles[i]);
                else
                    u->roles |= 1u << ri;
            }
        }
        if ((v = need(c, vn, "categories", what))) {
            u->categories = get_list(c, v, "categories", 'c', &u->ncategories);
            for (int i = 0; u->categories && i < u->ncategories; i++) {
                int covered = 0;
                for (int j = 0; j < p->ncategories; j++)
                    covered |= pv_category_covers(u->categories[i], p->categories[j].key);
                if (!covered)
                    err(c, node(c, v->data.sequence.items.start[i]),
                        "category '%s' covers no category declared under categories",
                        u->categories[i]);
            }
        }
        if ((v = get(c, vn, "requires"))) {
            const char **req = get_list(c, v, "requires", 'n', &n);
            for (int i = 0; req && i < n; i++) {
                int ki = pv_policy_consent(p, req[i]);
                if (ki < 0)
                    err(c, node(c, v->data.sequence.items.start[i]),
                        "consent '%s' is not declared under consents", req[i]);
                else
                u->requires |= UINT64_C(1) << ki;
            }
        }
        purpose_marketing(c, u, vn);
        purpose_basis(c, u, vn);
        p->npurposes++;
    }
}

/* A recipient marked sale: never a provider for care or the law; needs a sale consent kind. */
static void
recipient_sale(struct ctx *c, const struct pv_recipient *r, const node_t *v)
{
    const struct pv_policy *p = c->p;
    int sale_kind = 0;

    for (int k = 0; p->consent_kinds && k < p->nconsents; k++)
        sale_kind |= p->consent_kinds[k].type == PV_CONSENT_SALE;
    if (r->kind && (strcmp(r->kind, "provider") == 0 || strcmp(r->kind, "legal") == 0))
        err(c, v, "recipient %s of kind %s is not a sale: sale applies to other kinds", r->key,
            r->kind);
    else if (!sale_kind)
        err(c, v, "recipient %s is a sale: declare a consent of type sale, the person's opt-out",
            r->key);
}

static void
load_recipients(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"kind", "baa", "categories", "sale", NULL};
    static const char *const kinds[] = {
        "provider", "service_provider", "affiliate", "business_partner", "legal", "buyer"};
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;

    if (!want_map(c, m, "recipients"))
        return;
    check_keys(c, m, NULL, "recipients");
    if ((p->recipients = alloc(c, sizeof *p->recipients * (size_t)map_len(m))) == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value), *v;
        struct pv_recipient *r = &p->recipients[p->nrecipients];
        const char *key = get_name(c, kn, "a recipient");
        char what[128];

        if (key == NULL)
            continue;
        (void)snprintf(what, sizeof what, "recipient %s", key);
        if (!want_map(c, vn, what))
            continue;
        check_keys(c, vn, keys, what);
        r->key = key;
        if ((v = need(c, vn, "kind", what))) {
            const char *s = sval(v);
            size_t i;
            for (i = 0; s && i < PV_ARRAY_LEN(kinds); i++)
                if (strcmp(s, kinds[i]) == 0)
                    break;
            if (s == NULL || i == PV_ARRAY_LEN(kinds))
                err(c, v,
                    "expected provider, service_provider, affiliate, business_partner, legal "
                    "or buyer for kind");
            else
                r->kind = kinds[i];
        }
        if ((v = get(c, vn, "baa")))
            get_bool(c, v, "baa", &r->baa);
        if ((v = need(c, vn, "categories", what)))
            r->categories = get_list(c, v, "categories", 'c', &r->ncategories);
        if ((v = get(c, vn, "sale")) && get_bool(c, v, "sale", &r->sale) && r->sale)
            recipient_sale(c, r, v);
        p->nrecipients++;
    }
}

/* A number of days written 15d or 15; -1 if s is neither. */
static int64_t
days_of(const char *s)
{
    struct pv_retention d;
    int64_t days;

    if (s && pv_parse_i64(s, 1, 3650, &days) == 0)
        return days;
    if (s && parse_duration(s, &d) == 0 && d.unit == PV_RET_DAYS)
        return d.n;
    return -1;
}

/*
 * Each right is a deadline (15d) or a mapping {deadline, extension}: the
 * extension is the most one extension may add (default: the right's own,
 * rights.c).
 */
static void
load_rights(struct ctx *c, const node_t *m)
{
    static const char *const rights[] = {"access",      "amend",     "delete",   "restrict",
                                         "portability", "object",    "withdraw", "know",
                                         "accounting",  "complaint", NULL};
    static const char *const keys[] = {"deadline", "extension", NULL};
    struct pv_policy *p = c->p;
    yaml_node_pair_t *pr;

    if (!want_map(c, m, "rights"))
        return;
    check_keys(c, m, rights, "rights");
    if ((p->rights = alloc(c, sizeof *p->rights * (size_t)map_len(m))) == NULL)
        return;
    for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        node_t *kn = node(c, pr->key), *vn = node(c, pr->value), *dn = vn, *en = NULL;
        const char *name = sval(kn);
        int64_t days, ext = -1;
        int deadline, defaults;
        char what[64];

        if (name == NULL)
            continue;
        if (vn->type == YAML_MAPPING_NODE) {
            (void)snprintf(what, sizeof what, "right %s", name);
            check_keys(c, vn, keys, what);
            if ((dn = need(c, vn, "deadline", what)) == NULL)
                continue;
            en = get(c, vn, "extension");
        }
        if ((days = days_of(sval(dn))) < 0) {
            err(c, dn, "expected a deadline in days such as 15d for right %s", name);
            continue;
        }
        if (en && (ext = days_of(sval(en))) < 0) {
            err(c, en, "expected an extension in days such as 30d for right %s", name);
            continue;
        }
        /* The right's default extension, unless the policy gives one. */
        if (pv_policy_right(p, name, &deadline, &defaults) != 0)
            continue; /* check_keys named it */
        p->rights[p->nrights].name = dup(c, name);
        p->rights[p->nrights].days = (int)days;
        p->rights[p->nrights].extension_days = ext >= 0 ? (int)ext : defaults;
        p->nrights++;
    }
}

/* disclosure: rules on recipients beyond each one's own entry. */
static void
load_disclosure(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"forbidden_kinds", "never_sell", NULL};
    struct pv_policy *p = c->p;
    node_t *v;

    if (!want_map(c, m, "disclosure"))
        return;
    check_keys(c, m, keys, "disclosure");
    if ((v = get(c, m, "never_sell")) && get_bool(c, v, "never_sell", &p->disclosure.never_sell) &&
        p->disclosure.never_sell) {
        /* A service that sells nothing can have nothing marked as a sale. */
        for (int i = 0; i < p->npurposes; i++)
            if (p->purposes[i].sale)
                err(c, v, "never_sell: purpose %s is marked sale", p->purposes[i].key);
        for (int i = 0; i < p->nrecipients; i++)
            if (p->recipients[i].sale)
                err(c, v, "never_sell: recipient %s is marked sale", p->recipients[i].key);
    }
    if ((v = get(c, m, "forbidden_kinds")) == NULL)
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        err(c, v, "expected a list of recipient kinds for disclosure.forbidden_kinds");
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        node_t *kn = node(c, *it);
        int k = pv_recipient_kind_parse(sval(kn));
        if (k < 0)
            err(c, kn,
                "expected provider, service_provider, affiliate, business_partner, legal or "
                "buyer for a recipient kind");
        else
            p->disclosure.forbidden_kinds |= 1u << k;
    }
}

/* aggregates: {min_cell}: the smallest count an aggregate gives. */
static void
load_aggregates(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"min_cell", NULL};
    node_t *v;

    if (!want_map(c, m, "aggregates"))
        return;
    check_keys(c, m, keys, "aggregates");
    if ((v = need(c, m, "min_cell", "aggregates")))
        get_int(c, v, 2, 1000, "min_cell", &c->p->aggregates.min_cell);
}

/*
 * recordings: {recorded, category?}. Never recorded: no category under the
 * recordings' key may be declared, so no collection can hold one. Recorded:
 * some category holds them, and every such category is health data.
 */
static void
load_recordings(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"recorded", "category", NULL};
    struct pv_policy *p = c->p;
    int held = 0;
    node_t *v, *rn;

    if (!want_map(c, m, "recordings"))
        return;
    check_keys(c, m, keys, "recordings");
    if ((rn = need(c, m, "recorded", "recordings")) == NULL ||
        !get_bool(c, rn, "recordings.recorded", &p->recordings.recorded))
        return;
    p->recordings.category = "user.health.recording";
    if ((v = get(c, m, "category")) &&
        (p->recordings.category = get_category_key(c, v, "recordings.category")) == NULL)
        return;
    p->recordings.declared = 1;
    for (int i = 0; i < p->ncategories; i++) {
        const struct pv_category *cat = &p->categories[i];
        if (!pv_category_covers(p->recordings.category, cat->key))
            continue;
        held = 1;
        if (!p->recordings.recorded)
            err(c, rn, "sessions are never recorded, but category %s holds recordings", cat->key);
        else if (!cat->phi)
            err(c, rn, "recordings hold health data: category %s needs phi: true", cat->key);
    }
    if (p->recordings.recorded && !held)
        err(c, rn, "sessions are recorded, but no category under %s holds the recordings",
            p->recordings.category);
}

/*
 * payment_cards: {refuse_numbers, last4?}. The field named by last4 must hold a
 * category stored as last4, so the refusal points to a place that keeps only
 * what may be kept.
 */
static void
load_payment_cards(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"refuse_numbers", "last4", NULL};
    struct pv_policy *p = c->p;
    char col[PV_NAME_MAX];
    const char *s, *dot;
    node_t *v;
    int ci, fi;

    if (!want_map(c, m, "payment_cards"))
        return;
    check_keys(c, m, keys, "payment_cards");
    if ((v = need(c, m, "refuse_numbers", "payment_cards")))
        get_bool(c, v, "payment_cards.refuse_numbers", &p->cards.refuse);
    if ((v = get(c, m, "last4")) == NULL || (s = get_text(c, v, "payment_cards.last4")) == NULL)
        return;
    dot = strchr(s, '.');
    if (dot == NULL || (size_t)(dot - s) >= sizeof col) {
        err(c, v, "expected COLLECTION.FIELD for payment_cards.last4");
        return;
    }
    memcpy(col, s, (size_t)(dot - s));
    col[dot - s] = '\0';
    if ((ci = pv_policy_collection(p, col)) < 0 ||
        (fi = pv_policy_field(&p->collections[ci], dot + 1)) < 0) {
        err(c, v, "payment_cards.last4 names %s, which no collection declares", s);
        return;
    }
    if (p->categories[p->collections[ci].fields[fi].category].store != PV_STORE_LAST4) {
        err(c, v, "payment_cards.last4 names %s, whose category needs store: last4", s);
        return;
    }
    p->cards.last4 = s;
}

/* The profile field texts go to: named, or the first one of a phone-number category, if any. */
static void
load_sms_number(struct ctx *c, const node_t *sms)
{
    struct pv_policy *p = c->p;
    int prof = pv_policy_collection(p, "profile"), fi = -1;
    const struct pv_collection *col;
    const struct pv_category *cat;
    node_t *v;

    if ((v = get(c, sms, "never_shared")))
        get_bool(c, v, "communications.sms.never_shared", &p->sms.never_shared);
    if (prof < 0)
        return; /* the missing profile is reported on its own */
    col = &p->collections[prof];
    if ((v = get(c, sms, "phone_field"))) {
        if (sval(v) == NULL || (fi = pv_policy_field(col, sval(v))) < 0) {
            err(c, v,
                "expected a field of the profile collection for communications.sms.phone_field");
            return;
        }
    } else {
        for (int i = 0; i < col->nfields && fi < 0; i++)
            if (pv_category_covers("user.contact.phone_number",
                                   p->categories[col->fields[i].category].key))
                fi = i;
        if (fi < 0)
            return; /* no number on file: nothing can be texted, STOP is still answered */
    }
    p->sms.phone_field = fi;
    p->sms.phone_category = col->fields[fi].category;
    cat = &p->categories[p->sms.phone_category];
    if (!cat->index)
        err(c, v ? v : sms,
            "category %s of the SMS number needs index: true, so that inbound texts find their "
            "sender",
            cat->key);
}

static void
load_channels(struct ctx *c, const node_t *v)
{
    int n;
    const char **list = get_list(c, v, "communications.channels", 'n', &n);

    c->p->channels = 0;
    for (int i = 0; list && i < n; i++) {
        int ch = pv_channel_parse(list[i]);
        if (ch == PV_CH_NONE)
            err(c, node(c, v->data.sequence.items.start[i]),
                "expected email, sms, phone or mail for a channel");
        else
            c->p->channels |= 1u << ch;
    }
}

/* What this version changes: {material, notice, summary}. */
static void
load_change(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"material", "notice", "summary", NULL};
    struct pv_retention d;
    node_t *v;

    if (!want_map(c, m, "change"))
        return;
    check_keys(c, m, keys, "change");
    if ((v = need(c, m, "material", "change")))
        get_bool(c, v, "change.material", &c->p->change.material);
    if ((v = get(c, m, "summary")))
        c->p->change.summary = get_text(c, v, "change.summary");
    if ((v = get(c, m, "notice"))) {
        const char *s = sval(v);
        if (s == NULL || parse_duration(s, &d) != 0 || d.unit != PV_RET_DAYS)
            err(c, v, "expected a notice period in days such as 30d for change.notice");
        else
            c->p->change.notice_days = d.n;
    } else if (c->p->change.material) {
        err(c, m,
            "missing required key 'notice' in change (a material change needs a notice period)");
    }
}

static void
load_communications(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"sms", "channels", NULL};
    static const char *const skeys[] = {"program", "help", "phone_field", "never_shared", NULL};
    node_t *sms, *v;

    if (!want_map(c, m, "communications"))
        return;
    check_keys(c, m, keys, "communications");
    if ((sms = get(c, m, "sms")) && want_map(c, sms, "communications.sms")) {
        check_keys(c, sms, skeys, "communications.sms");
        if ((v = need(c, sms, "program", "communications.sms")))
            c->p->sms.program = get_text(c, v, "communications.sms.program");
        if ((v = need(c, sms, "help", "communications.sms")))
            c->p->sms.help = get_text(c, v, "communications.sms.help");
        load_sms_number(c, sms);
    }
    if ((v = get(c, m, "channels")))
        load_channels(c, v);
}

/* ---- who may act for whom: minors, visibility, restriction, break-glass, sessions ---- */

#define DEFAULT_ADULT_AGE 18
#define DEFAULT_CONSENT_AGE 13 /* COPPA: younger children need verified parental consent */
#define DEFAULT_SESSION_S (INT64_C(8) * 3600)
#define DEFAULT_USER_FAILURES 5
#define DEFAULT_ADDRESS_FAILURES 20
#define DEFAULT_FAILURE_WINDOW_S (INT64_C(15) * 60)
#define MAX_SPAN_S (INT64_C(7) * 86400)

/* The rules a policy gets when it says nothing: no minors features, no break-glass. */
static void
access_defaults(struct pv_policy *p)
{
    p->minors.adult_age = DEFAULT_ADULT_AGE;
    p->minors.consent_age = DEFAULT_CONSENT_AGE;
    p->minors.guardian_age = DEFAULT_ADULT_AGE;
    p->break_glass.purpose = -1;
    p->auth.lifetime_s = DEFAULT_SESSION_S;
    p->auth.max_user_failures = DEFAULT_USER_FAILURES;
    p->auth.max_address_failures = DEFAULT_ADDRESS_FAILURES;
    p->auth.failure_window_s = DEFAULT_FAILURE_WINDOW_S;
}

/* "90s", "30m", "4h", "1d": a span of time in seconds, from 1 second to 7 days. */
static int
get_span(struct ctx *c, const node_t *n, const char *what, int64_t *out)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    const char *s = sval(n);
    char num[8];
    size_t len = s ? strlen(s) : 0;
    int64_t v;

    if (len >= 2 && len - 1 < sizeof num) {
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        for (size_t i = 0; i < PV_ARRAY_LEN(units); i++)
            if (s[len - 1] == units[i].unit && pv_parse_i64(num, 1, MAX_SPAN_S, &v) == 0 &&
                v * units[i].s <= MAX_SPAN_S) {
                *out = v * units[i].s;
                return 1;
            }
    }
    err(c, n, "expected a duration such as 30m, 4h or 1d (at most 7d) for %s", what);
    return 0;
}

/* A list of purpose names, as purpose indices. */
static int *
get_purposes(struct ctx *c, const node_t *n, const char *what, int *count)
{
    int nn, *out;
    const char **names = get_list(c, n, what, 'n', &nn);

    *count = 0;
    if (names == NULL || (out = alloc(c, sizeof *out * (size_t)(nn + 1))) == NULL)
        return NULL;
    for (int i = 0; i < nn; i++) {
        int u = pv_policy_purpose(c->p, names[i]);
        if (u < 0)
            err(c, node(c, n->data.sequence.items.start[i]),
                "purpose '%s' is not declared under purposes", names[i]);
        else
            out[(*count)++] = u;
    }
    return out;
}

/* A list of role names, as a mask. */
static uint32_t
get_roles(struct ctx *c, const node_t *n, const char *what)
{
    int nn;
    const char **names = get_list(c, n, what, 'n', &nn);
    uint32_t m = 0;

    for (int i = 0; names && i < nn; i++) {
        int ri = pv_policy_role(c->p, names[i]);
        if (ri < 0)
            err(c, node(c, n->data.sequence.items.start[i]),
                "role '%s' is not declared under roles", names[i]);
        else
            m |= 1u << ri;
    }
    return m;
}

static void
load_minors(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"adult_age",
                                       "parental_consent_age",
                                       "guardian_enrollment",
                                       "guardian_minimum_age",
                                       "features",
                                       NULL};
    struct pv_policy *p = c->p;
    node_t *v;
    int n;

    if (!want_map(c, m, "minors"))
        return;
    check_keys(c, m, keys, "minors");
    if ((v = get(c, m, "adult_age")))
        get_int(c, v, 1, 120, "minors.adult_age", &p->minors.adult_age);
    if ((v = get(c, m, "parental_consent_age")) &&
        get_int(c, v, 0, 120, "minors.parental_consent_age", &p->minors.consent_age) &&
        p->minors.consent_age > p->minors.adult_age)
        err(c, v, "expected parental_consent_age to be at most adult_age (%d)",
            p->minors.adult_age);
    if ((v = get(c, m, "guardian_enrollment")))
        get_bool(c, v, "minors.guardian_enrollment", &p->minors.guardian_enrollment);
    if ((v = get(c, m, "guardian_minimum_age")) &&
        get_int(c, v, 1, 120, "minors.guardian_minimum_age", &p->minors.guardian_age) &&
        p->minors.guardian_age < p->minors.adult_age)
        err(c, v,
            "expected guardian_minimum_age to be at least adult_age (%d): a guardian is an adult",
            p->minors.adult_age);
    if ((v = get(c, m, "features"))) {
        const char **names = get_list(c, v, "minors.features", 'n', &n);
        if (names && (p->minors.features = alloc(c, sizeof(int) * (size_t)(n + 1))) != NULL) {
            for (int i = 0; i < n; i++) {
                int ci = pv_policy_collection(p, names[i]);
                if (ci < 0)
                    err(c, node(c, v->data.sequence.items.start[i]),
                        "collection '%s' is not declared under collections", names[i]);
                else
                    p->minors.features[p->minors.nfeatures++] = ci;
            }
        }
    }
}

static void
load_visibility(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"roles", "purposes", "withheld", NULL};
    struct pv_policy *p = c->p;
    node_t *v;

    if (!want_map(c, m, "profile_visibility"))
        return;
    check_keys(c, m, keys, "profile_visibility");
    if ((v = need(c, m, "roles", "profile_visibility"))) {
        p->visibility.roles = get_roles(c, v, "profile_visibility.roles");
        for (int i = 0; i < p->nroles; i++)
            if ((p->visibility.roles & (1u << i)) && p->roles[i].scope != PV_SCOPE_ASSIGNED)
                err(c, v,
                    "role '%s' does not act on assigned subjects; profile visibility opens "
                    "profiles to roles of scope assigned",
                    p->roles[i].name);
    }
    if ((v = need(c, m, "purposes", "profile_visibility")))
        p->visibility.purposes =
            get_purposes(c, v, "profile_visibility.purposes", &p->visibility.npurposes);
    if ((v = get(c, m, "withheld")))
        p->visibility.withheld =
            get_list(c, v, "profile_visibility.withheld", 'c', &p->visibility.nwithheld);
}

static void
load_restriction(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"purposes", NULL};
    node_t *v;

    if (!want_map(c, m, "restriction"))
        return;
    check_keys(c, m, keys, "restriction");
    if ((v = need(c, m, "purposes", "restriction")))
        c->p->restriction.purposes =
            get_purposes(c, v, "restriction.purposes", &c->p->restriction.npurposes);
}

static void
load_break_glass(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"purpose", "duration", NULL};
    struct pv_policy *p = c->p;
    node_t *v;
    const char *s;

    if (!want_map(c, m, "break_glass"))
        return;
    check_keys(c, m, keys, "break_glass");
    if ((v = need(c, m, "purpose", "break_glass")) && (s = get_name(c, v, "break_glass.purpose"))) {
        if ((p->break_glass.purpose = pv_policy_purpose(p, s)) < 0)
            err(c, v, "purpose '%s' is not declared under purposes", s);
    }
    if ((v = need(c, m, "duration", "break_glass")))
        get_span(c, v, "break_glass.duration", &p->break_glass.duration_s);
}

static void
load_authentication(struct ctx *c, const node_t *m)
{
    static const char *const keys[] = {"mfa",
                                       "idle_timeout",
                                       "session_lifetime",
                                       "max_failures_per_user",
                                       "max_failures_per_address",
                                       "failure_window",
                                       NULL};
    struct pv_policy *p = c->p;
    node_t *v;

    if (!want_map(c, m, "authentication"))
        return;
    check_keys(c, m, keys, "authentication");
    if ((v = get(c, m, "mfa")))
        p->auth.mfa_roles = get_roles(c, v, "authentication.mfa");
    if ((v = get(c, m, "idle_timeout")))
        get_span(c, v, "authentication.idle_timeout", &p->auth.idle_s);
    if ((v = get(c, m, "session_lifetime")))
        get_span(c, v, "authentication.session_lifetime", &p->auth.lifetime_s);
    if ((v = get(c, m, "max_failures_per_user")))
        get_int(c, v, 1, 1000, "authentication.max_failures_per_user", &p->auth.max_user_failures);
    if ((v = get(c, m, "max_failures_per_address")))
        get_int(c, v, 1, 100000, "authentication.max_failures_per_address",
                &p->auth.max_address_failures);
    if ((v = get(c, m, "failure_window")))
        get_span(c, v, "authentication.failure_window", &p->auth.failure_window_s);
}

/* The sections on who may act for whom; they name purposes, so they come after them. */
static void
load_access_rules(struct ctx *c, const node_t *root)
{
    node_t *v;

    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return;
    if ((v = get(c, root, "minors")))
        load_minors(c, v);
    if ((v = get(c, root, "profile_visibility")))
        load_visibility(c, v);
    if ((v = get(c, root, "restriction")))
        load_restriction(c, v);
    if ((v = get(c, root, "break_glass")))
        load_break_glass(c, v);
    if ((v = get(c, root, "authentication")))
        load_authentication(c, v);
}

static void
load_root(struct ctx *c, node_t *root)
{
    static const char *const keys[] = {"phivault",
                                       "organization",
                                       "effective",
                                       "minimum_age",
                                       "categories",
                                       "collections",
                                       "roles",
                                       "purposes",
                                       "consents",
                                       "recipients",
                                       "rights",
                                       "communications",
                                       "minors",
                                       "profile_visibility",
                                       "restriction",
                                       "break_glass",
                                       "authentication",
                                       "change",
                                       "visit_collection",
                                       "assign_after",
                                       "disclosure",
                                       "recordings",
                                       "payment_cards",
                                       "aggregates",
                                       NULL};
    struct pv_policy *p = c->p;
    node_t *v, *cats = NULL;
    int y, mo, d;

    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        err(c, root, "expected a mapping at the top of the policy");
        return;
    }
    check_keys(c, root, keys, "the policy");
    p->sms.phone_field = p->sms.phone_category = p->policy_kind = -1;
    p->channels = (1u << PV_CH_COUNT_) - 1;
    if ((v = need(c, root, "phivault", "the policy"))) {
        if (sval(v) && strcmp(sval(v), "1") == 0)
            p->format = 1;
        else
            err(c, v, "expected 1 for phivault (the policy format version)");
    }
    if ((v = need(c, root, "organization", "the policy")))
        load_organization(c, v);
    if ((v = need(c, root, "effective", "the policy"))) {
        const char *s = sval(v);
        if (s == NULL || pv_date_parse(s, &y, &mo, &d) != 0)
            err(c, v, "expected a date YYYY-MM-DD for effective");
        else
            pv_strlcpy(p->effective, s, sizeof p->effective);
    }
    if ((v = need(c, root, "minimum_age", "the policy")))
        get_int(c, v, 0, 120, "minimum_age", &p->minimum_age);
    if ((v = cats = need(c, root, "categories", "the policy")))
        load_categories(c, v);
    if ((v = need(c, root, "collections", "the policy"))) {
        load_collections(c, v);
        if (c->nerrors == 0 && pv_policy_collection(p, "profile") < 0)
            err(c, v, "missing required collection 'profile' in collections");
        check_usage(c, v);
        check_end_to_end(c, v);
    }
    if ((v = get(c, root, "visit_collection"))) {
        const char *s = get_name(c, v, "visit_collection");
        if (s && (p->visit_collection = pv_policy_collection(p, s)) < 0)
            err(c, v, "collection '%s' is not declared under collections", s);
    }
    if ((v = get(c, root, "assign_after"))) {
        const char *s = get_name(c, v, "assign_after");
        if (s && (p->assign_after = pv_policy_collection(p, s)) < 0)
            err(c, v, "collection '%s' is not declared under collections", s);
    }
    if ((v = need(c, root, "roles", "the policy")))
        load_roles(c, v);
    if ((v = get(c, root, "consents")))
        load_consents(c, v);
    link_categories(c, cats);
    if ((v = need(c, root, "purposes", "the policy")))
        load_purposes(c, v);
    if ((v = get(c, root, "recipients")))
        load_recipients(c, v);
    if ((v = get(c, root, "rights")))
        load_rights(c, v);
    if ((v = get(c, root, "disclosure")))
        load_disclosure(c, v);
    if ((v = get(c, root, "recordings")))
        load_recordings(c, v);
    if ((v = get(c, root, "payment_cards")))
        load_payment_cards(c, v);
    if ((v = get(c, root, "aggregates")))
        load_aggregates(c, v);
    if ((v = get(c, root, "communications")))
        load_communications(c, v);
    load_access_rules(c, root);
    if ((v = get(c, root, "change")))
        load_change(c, v);
    check_consents(c, root);
}

int
pv_policy_parse(const char *name, const char *text, size_t len, struct pv_policy **out,
                struct pv_buf *errors)
{
    unsigned char h[PV_HASH_BYTES];
    yaml_parser_t parser;
    struct ctx c;
    int rc = 0;

    memset(&c, 0, sizeof c);
    c.name = name;
    c.errors = errors;
    if (len > MAX_POLICY_BYTES) {
        err(&c, NULL, "expected a policy of at most %zu bytes", MAX_POLICY_BYTES);
        return PV_EPOLICY;
    }
    if ((c.a = pv_arena_new()) == NULL)
        return PV_ENOMEM;
    c.p = pv_arena_alloc(c.a, sizeof *c.p);
    if (c.p == NULL) {
        pv_arena_free(c.a);
        return PV_ENOMEM;
    }
    c.p->arena = c.a;
    c.p->visit_collection = -1;
    c.p->assign_after = -1;
    c.p->usage = -1;
    c.p->aggregates.min_cell = 11; /* the cell size CMS's suppression policy uses */
    c.p->source = pv_arena_strndup(c.a, text, len);
    c.p->source_len = len;
    access_defaults(c.p);
    if (c.p->source == NULL || !yaml_parser_initialize(&parser)) {
        pv_arena_free(c.a);
        return PV_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &c.doc)) {
        c.nerrors++;
        if (errors)
            pv_buf_printf(errors, "%s:%zu:%zu: invalid YAML: %s%s%s\n", name,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "syntax error",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        pv_arena_free(c.a);
        return PV_EPOLICY;
    }
    load_root(&c, yaml_document_get_root_node(&c.doc));
    yaml_document_delete(&c.doc);
    yaml_parser_delete(&parser);
    if (c.oom)
        rc = PV_ENOMEM;
    else if (c.nerrors)
        rc = PV_EPOLICY;
    if (rc != 0) {
        pv_arena_free(c.a);
        return rc;
    }
    pv_hash(text, len, h);
    pv_hex(h, PV_POLICY_VERSION_LEN / 2, c.p->version);
    *out = c.p;
    return 0;
}

int
pv_policy_load(const char *path, struct pv_policy **out, struct pv_buf *errors)
{
    struct pv_buf text;
    char chunk[8192];
    size_t n;
    FILE *f;
    int rc = 0;

    if ((f = fopen(path, "rb")) == NULL) {
        if (errors)
            pv_buf_printf(errors, "%s:1:1: cannot open the policy file (%s)\n", path,
                          strerror(errno));
        return PV_EIO;
    }
    pv_buf_init(&text, MAX_POLICY_BYTES);
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = pv_buf_append(&text, chunk, n);
    if (rc == 0 && ferror(f))
        rc = PV_EIO;
    (void)fclose(f);
    if (rc == PV_ETOOBIG && errors)
        pv_buf_printf(errors, "%s:1:1: expected a policy of at most %zu bytes\n", path,
                      MAX_POLICY_BYTES);
    if (rc == 0)
        rc = pv_policy_parse(path, text.data ? text.data : "", text.len, out, errors);
    else if (rc == PV_ETOOBIG)
        rc = PV_EPOLICY;
    pv_buf_fini(&text);
    return rc;
}

void
pv_policy_free(struct pv_policy *p)
{
    if (p)
        pv_arena_free(p->arena);
}
