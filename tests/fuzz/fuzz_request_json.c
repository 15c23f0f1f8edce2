/*
 * fuzz_request_json.c: request bodies as the server parses them
 * (pv_http_json_body) and as the vault's services then take them apart:
 * enrollment, record creation and update (the profile too), assignment.
 *
 * The first byte picks the service, the rest is the body. A real vault
 * (a data directory on tmpfs, the example policy) serves them, with a staff
 * member and an assigned provider as the callers, so every check from the
 * field scan to the decision and the sealed write runs. Every answer must
 * keep the services' contract: an error is a pv_err and leaves *out alone,
 * success gives an answer, and a field name echoed back is sanitized.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/parse.h"
#include "vault/vault.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "fuzzing-password-123"

static char dir[64], data_dir[96];
static struct pv_vault *v;
static struct pv_actor staff, prov;
static char subject[PV_ID_MAX], visit[PV_ID_MAX], profile[PV_ID_MAX];

static void
check(int ok, const char *what)
{
    fuzz_check(ok, "fuzz_request_json", what);
}

static void
cleanup(void)
{
    pv_vault_close(v);
    fuzz_rm_tree(dir);
}

/* Log in as name and fill who from the session. */
static void
login(const char *name, struct pv_actor *who)
{
    json_t *body = json_pack("{s:s, s:s}", "username", name, "password", PASSWORD), *out = NULL;
    struct pv_call call;

    memset(&call, 0, sizeof call);
    check(pv_vault_login(v, &call, "127.0.0.1", body, &out) == 0, "login");
    check(pv_vault_authenticate(v, json_string_value(json_object_get(out, "token")), who) == 0,
          "authenticate");
    json_decref(body);
    json_decref(out);
}

static void
user(const struct pv_actor *admin, const char *name, const char *role, struct pv_actor *who)
{
    struct pv_call call = {.actor = admin};
    json_t *body =
               json_pack("{s:s, s:s, s:s}", "username", name, "password", PASSWORD, "role", role),
           *out = NULL;

    check(pv_vault_user_create(v, &call, body, &out) == 0, "user");
    json_decref(body);
    json_decref(out);
    login(name, who);
}

/* Call a service with a body made here; returns its answer's "id". */
static void
setup_call(int (*fn)(struct pv_call *, json_t *, json_t **), const struct pv_actor *who,
           const char *purpose, json_t *body, char *id_out)
{
    struct pv_call call = {.actor = who, .purpose = purpose};
    json_t *out = NULL;

    check(body != NULL && fn(&call, body, &out) == 0, "setup call");
    if (id_out)
        check(pv_strlcpy(id_out, json_string_value(json_object_get(out, "id")), PV_ID_MAX) == 0,
              "setup id");
    json_decref(body);
    json_decref(out);
}

static int
do_enroll(struct pv_call *c, json_t *b, json_t **o)
{
    return pv_vault_enroll(v, c, b, o);
}

static int
do_assign(struct pv_call *c, json_t *b, json_t **o)
{
    return pv_vault_assign(v, c, subject, b, o);
}

static int
do_visit(struct pv_call *c, json_t *b, json_t **o)
{
    return pv_vault_record_create(v, c, subject, "visits", b, o);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pv_vault_config cfg = {data_dir, NULL, 0};
    struct pv_actor admin;
    json_t *prof;

    (void)argc;
    (void)argv;
    check(pv_crypto_init(2) == 0, "libsodium");
    fuzz_temp_dir(dir);
    fuzz_fmt(data_dir, sizeof data_dir, "%s/data", dir);
    check(pv_vault_init(data_dir, PV_SOURCE_DIR "/policies/example.yaml", PASSWORD, NULL) == 0,
          "init");
    check(pv_vault_open(&cfg, &v, NULL) == 0, "open");
    check(atexit(cleanup) == 0, "atexit");
    login("admin", &admin);
    user(&admin, "staff1", "staff", &staff);
    user(&admin, "prov1", "provider", &prov);
    setup_call(do_enroll, &staff, "operations",
               json_pack("{s:s, s:s, s:{s:s, s:s}}", "policy_version", pv_vault_policy(v)->version,
                         "birth_date", "1980-05-17", "profile", "name", "Ada Lovelace", "email",
                         "ada@example.org"),
               subject);
    setup_call(do_assign, &staff, "operations", json_pack("{s:s}", "provider", prov.user_id), NULL);
    setup_call(do_visit, &prov, "treatment",
               json_pack("{s:s, s:s}", "date", "2026-01-02", "notes", "first visit"), visit);
    prof = NULL;
    {
        struct pv_call call = {.actor = &staff, .purpose = "operations"};
        check(pv_vault_subject_get(v, &call, subject, &prof) == 0, "subject");
        check(pv_strlcpy(profile,
                         json_string_value(json_object_get(json_object_get(prof, "profile"), "id")),
                         sizeof profile) == 0,
              "profile id");
        json_decref(prof);
    }
    return 0;
}

/* What the services may echo back as the field at fault: safe characters only. */
static int
field_is_safe(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_-.?", *s)))
            return 0;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_call call;
    const char *detail = NULL;
    json_t *body = NULL, *out = NULL;
    int rc;

    if (size < 1)
        return 0;
    rc = pv_http_json_body((const char *)data + 1, size - 1, &body, &detail);
    if (rc != 0) {
        check((rc == PV_EJSON || rc == PV_EINVAL) && detail != NULL && body == NULL,
              "a refused body without its reason");
        return 0;
    }
    memset(&call, 0, sizeof call);
    switch (data[0] % 6) {
    case 0:
        call.actor = &staff;
        call.purpose = "operations";
        rc = pv_vault_enroll(v, &call, body, &out);
        break;
    case 1:
        call.actor = &prov;
        call.purpose = "treatment";
        rc = pv_vault_record_create(v, &call, subject, "visits", body, &out);
        break;
    case 2:
        call.actor = &prov;
        call.purpose = "treatment";
        rc = pv_vault_record_update(v, &call, subject, "visits", visit, body, &out);
        break;
    case 3:
        call.actor = &staff;
        call.purpose = "operations";
        rc = pv_vault_record_update(v, &call, subject, "profile", profile, body, &out);
        break;
    case 4:
        call.actor = &staff;
        call.purpose = "operations";
        rc = pv_vault_assign(v, &call, subject, body, &out);
        break;
    default:
        /* A purpose that does not cover the collection: refused, whatever the body. */
        call.actor = &prov;
        call.purpose = "operations";
        rc = pv_vault_record_create(v, &call, subject, "visits", body, &out);
        check(rc != 0, "a write outside the role's purposes was accepted");
        break;
    }
    check(rc <= 0 && rc > -PV_ERR_COUNT_, "a result that is no pv_err");
    check((rc == 0) == (out != NULL), "an answer without success, or success without one");
    check(rc != PV_EAUDIT, "the audit log failed");
    check(field_is_safe(call.field), "an unsanitized field name in the answer");
    json_decref(out);
    json_decref(body);
    return 0;
}
