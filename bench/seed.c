/*
 * seed.c: pvbench-seed, the benchmark's data set: a new data directory with
 * N subjects of M records each, every one assigned to one provider, and
 * optionally one more subject with a large number of records (the export
 * benchmark's).
 *
 * Everything goes through the vault's own services, as a staff member
 * (enrollment, assignment, for operations) and the provider (records, for
 * treatment), from many threads: every field is sealed, every write is
 * audited and shares its fsync with the writes of the other threads, as a
 * server would do it. Not a phivault command: it makes synthetic people, so
 * it lives with the benchmark and refuses an existing directory.
 *
 *   pvbench-seed --data DIR --policy FILE --subjects N --records M
 *                [--big R] [--threads T] [--paths FILE]
 *
 * Prints (stdout) the provider's username and password and the big
 * subject's id; --paths writes one record path per line for the read load.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "vault/vault.h"

#define PASSWORD "bench-password-0123456789"
#define PATHS_MAX 100000

struct seed {
    struct pv_vault *v;
    struct pv_actor staff, prov, officer;
    long subjects, records, big;
    _Atomic long next_subject;
    _Atomic long done; /* records and subjects written */
    long total;
    FILE *paths;
    _Atomic long npaths;
    pthread_mutex_t paths_mu;
    char big_id[PV_ID_MAX];
    _Atomic int failed;
};

static int
fail(struct seed *s, const char *what, int rc)
{
    (void)fprintf(stderr, "pvbench-seed: %s: %s\n", what, pv_strerror(rc));
    atomic_store(&s->failed, 1);
    return rc;
}

static int
login(struct seed *s, const char *name, struct pv_actor *who)
{
    json_t *body = json_pack("{s:s, s:s}", "username", name, "password", PASSWORD), *out = NULL;
    struct pv_call call;
    int rc;

    memset(&call, 0, sizeof call);
    rc = body ? pv_vault_login(s->v, &call, "127.0.0.1", body, &out) : PV_ENOMEM;

    if (rc == 0)
        rc = pv_vault_authenticate(s->v, json_string_value(json_object_get(out, "token")), who);
    json_decref(body);
    json_decref(out);
    return rc;
}

static int
make_user(struct seed *s, const struct pv_actor *admin, const char *name, const char *role,
          struct pv_actor *who)
{
    struct pv_call call = {.actor = admin};
    json_t *body =
               json_pack("{s:s, s:s, s:s}", "username", name, "password", PASSWORD, "role", role),
           *out = NULL;
    int rc = body ? pv_vault_user_create(s->v, &call, body, &out) : PV_ENOMEM;

    json_decref(body);
    json_decref(out);
    return rc ? rc : login(s, name, who);
}

/* Enroll subject number i (staff, operations) and assign the provider; its id into id. */
static int
enroll(struct seed *s, long i, char id[PV_ID_MAX])
{
    struct pv_call call = {.actor = &s->staff, .purpose = "operations"};
    char name[64], email[64], phone[32];
    json_t *body, *out = NULL;
    int rc;

    (void)snprintf(name, sizeof name, "Bench Person %ld", i);
    (void)snprintf(email, sizeof email, "bench%ld@example.org", i);
    (void)snprintf(phone, sizeof phone, "+1 555 %07ld", i % 10000000);
    body = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "policy_version",
                     pv_vault_policy(s->v)->version, "birth_date", "1970-01-01", "source", "staff",
                     "profile", "name", name, "email", email, "phone", phone);
    rc = body ? pv_vault_enroll(s->v, &call, body, &out) : PV_ENOMEM;
    if (rc == 0)
        rc = pv_strlcpy(id, json_string_value(json_object_get(out, "id")), PV_ID_MAX);
    json_decref(body);
    json_decref(out);
    if (rc != 0)
        return fail(s, "enroll", rc);
    body = json_pack("{s:s}", "provider", s->prov.user_id);
    out = NULL;
    rc = body ? pv_vault_assign(s->v, &call, id, body, &out) : PV_ENOMEM;
    json_decref(body);
    json_decref(out);
    return rc ? fail(s, "assign", rc) : 0;
}

static int
record(struct seed *s, const char *subject, long k)
{
    struct pv_call call = {.actor = &s->prov, .purpose = "treatment"};
    char notes[96];
    json_t *body, *out = NULL;
    int rc;

    (void)snprintf(notes, sizeof notes, "visit %ld: blood pressure normal, follow up in a month",
                   k);
    body =
        json_pack("{s:s, s:s, s:s}", "date", "2026-01-15", "reason", "follow-up", "notes", notes);
    rc = body ? pv_vault_record_create(s->v, &call, subject, "visits", body, &out) : PV_ENOMEM;
    if (rc == 0 && s->paths && atomic_fetch_add(&s->npaths, 1) < PATHS_MAX) {
        pthread_mutex_lock(&s->paths_mu);
        (void)fprintf(s->paths, "/v1/subjects/%s/records/visits/%s\n", subject,
                      json_string_value(json_object_get(out, "id")));
        pthread_mutex_unlock(&s->paths_mu);
    }
    json_decref(body);
    json_decref(out);
    atomic_fetch_add(&s->done, 1);
    return rc ? fail(s, "record", rc) : 0;
}

static void *
worker(void *arg)
{
    struct seed *s = arg;
    char id[PV_ID_MAX];
    long i;

    while (!atomic_load(&s->failed) && (i = atomic_fetch_add(&s->next_subject, 1)) <= s->subjects) {
        if (i == s->subjects) {
            /* The big subject: one thread writes it while the others go on. */
            if (s->big <= 0 || enroll(s, i, s->big_id) != 0)
                continue;
            atomic_fetch_add(&s->done, 1);
            for (long k = 0; k < s->big && !atomic_load(&s->failed); k++)
                if (record(s, s->big_id, k) != 0)
                    break;
            continue;
        }
        if (enroll(s, i, id) != 0)
            break;
        atomic_fetch_add(&s->done, 1);
        for (long k = 0; k < s->records; k++)
            if (record(s, id, k) != 0)
                break;
    }
    return NULL;
}

static long
count_arg(const char *s, const char *what)
{
    int64_t n;

    if (pv_parse_i64(s, 0, 100000000, &n) != 0) {
        (void)fprintf(stderr, "pvbench-seed: %s takes a count\n", what);
        exit(2);
    }
    return (long)n;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},     {"policy", required_argument, NULL, 'p'},
        {"subjects", required_argument, NULL, 's'}, {"records", required_argument, NULL, 'r'},
        {"big", required_argument, NULL, 'b'},      {"threads", required_argument, NULL, 't'},
        {"paths", required_argument, NULL, 'P'},    {NULL, 0, NULL, 0},
    };
    struct seed s;
    struct pv_vault_config cfg = {NULL, NULL, 0};
    struct pv_actor admin;
    struct pv_progress bar;
    struct pv_buf errors;
    const char *policy = NULL, *paths = NULL;
    pthread_t *th;
    long threads = 64;
    int ch, rc;

    memset(&s, 0, sizeof s);
    s.subjects = 10000;
    s.records = 20;
    while ((ch = getopt_long(argc, argv, "d:p:s:r:b:t:P:", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            cfg.dir = optarg;
            break;
        case 'p':
            policy = optarg;
            break;
        case 's':
            s.subjects = count_arg(optarg, "--subjects");
            break;
        case 'r':
            s.records = count_arg(optarg, "--records");
            break;
        case 'b':
            s.big = count_arg(optarg, "--big");
            break;
        case 't':
            threads = count_arg(optarg, "--threads");
            break;
        case 'P':
            paths = optarg;
            break;
        default:
            return 2;
        }
    }
    if (cfg.dir == NULL || policy == NULL || optind != argc || threads < 1 || threads > 1024) {
        (void)fprintf(stderr, "usage: pvbench-seed --data DIR --policy FILE --subjects N --records "
                              "M [--big R] [--threads T] [--paths FILE]\n");
        return 2;
    }
    if (pv_cli_setup() != 0)
        return 1;
    pv_log_set_level(PV_LOG_WARN); /* the vault's start-up notes are not the benchmark's */
    pv_buf_init(&errors, (size_t)64 * 1024);
    rc = pv_vault_init(cfg.dir, policy, PASSWORD, &errors);
    if (rc == 0)
        rc = pv_vault_open(&cfg, &s.v, &errors);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    if ((rc = login(&s, "admin", &admin)) != 0 ||
        (rc = make_user(&s, &admin, "bench-staff", "staff", &s.staff)) != 0 ||
        (rc = make_user(&s, &admin, "bench-provider", "provider", &s.prov)) != 0 ||
        (rc = make_user(&s, &admin, "bench-officer", "privacy_officer", &s.officer)) != 0) {
        fail(&s, "users", rc);
        pv_vault_close(s.v);
        return 1;
    }
    if (paths && (s.paths = fopen(paths, "w")) == NULL) {
        (void)fprintf(stderr, "pvbench-seed: cannot write %s\n", paths);
        pv_vault_close(s.v);
        return 1;
    }
    pthread_mutex_init(&s.paths_mu, NULL);
    s.total = s.subjects * (1 + s.records) + (s.big > 0 ? 1 + s.big : 0);
    th = calloc((size_t)threads, sizeof *th);
    for (long i = 0; th && i < threads; i++)
        if (pthread_create(&th[i], NULL, worker, &s) != 0)
            th[i] = 0;
    pv_progress_start(&bar, "seeding");
    while (th && atomic_load(&s.done) < s.total && !atomic_load(&s.failed)) {
        pv_progress_update(&bar, atomic_load(&s.done), s.total);
        (void)nanosleep(&(struct timespec){0, 100000000L}, NULL); /* 0.1 s */
    }
    for (long i = 0; th && i < threads; i++)
        if (th[i])
            pthread_join(th[i], NULL);
    pv_progress_update(&bar, atomic_load(&s.done), s.total);
    pv_progress_end(&bar);
    free(th);
    if (s.paths && fclose(s.paths) != 0)
        fail(&s, "paths file", PV_EIO);
    pthread_mutex_destroy(&s.paths_mu);
    (void)printf("provider_user=bench-provider\nprovider_password=%s\nstaff_user=bench-staff\n"
                 "officer_user=bench-officer\nbig_subject=%s\n",
                 PASSWORD, s.big_id);
    pv_vault_close(s.v);
    return atomic_load(&s.failed) || th == NULL ? 1 : 0;
}
