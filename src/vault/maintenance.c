/*
 * maintenance.c: the server's background thread.
 *
 * Every second it looks at the key file: a rotation by `phivault keys
 * rotate` replaces it (a new inode), and the keyring is reloaded, so new
 * master versions are known before any request meets them and retired ones
 * leave the server's memory. Every sweep interval it runs the retention
 * sweep, through the committer like every other write, and logs the counts
 * (never ids or values).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vault/vault_int.h"

#define TICK_MS 1000

struct pv_maint {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    int stop;
    int64_t interval_ms;
    char key_path[1100];
    struct stat key_stamp;
};

static int
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void
watch_keys(struct pv_vault *v, struct pv_maint *m)
{
    struct stat st;
    char code[16];
    int rc;

    if (stat(m->key_path, &st) != 0 || same_file(&st, &m->key_stamp))
        return;
    if ((rc = pv_keyring_reload(v->keys)) == 0) {
        m->key_stamp = st;
        pv_log(PV_LOG_INFO, "keys.reloaded", (char *)NULL);
    } else {
        (void)snprintf(code, sizeof code, "%d", rc);
        pv_log(PV_LOG_ERROR, "keys.reload_failed", "error", pv_strerror(rc), "code", code,
               (char *)NULL);
        m->key_stamp = st; /* not again until the file changes again */
    }
}

static void
sweep(struct pv_vault *v)
{
    struct pv_sweep_report r;
    char n[7][24];
    int rc = pv_vault_sweep(v, &r, NULL, NULL);

    if (rc != 0) {
        (void)snprintf(n[0], sizeof n[0], "%d", rc);
        pv_log(PV_LOG_ERROR, "retention.sweep_failed", "error", pv_strerror(rc), "code", n[0],
               (char *)NULL);
        return;
    }
    if (r.records_purged + r.records_anonymized + r.fields_purged + r.usage_purged +
            r.keys_destroyed + r.held ==
        0)
        return;
    (void)snprintf(n[0], sizeof n[0], "%lld", (long long)r.subjects);
    (void)snprintf(n[1], sizeof n[1], "%lld", (long long)r.records_purged);
    (void)snprintf(n[2], sizeof n[2], "%lld", (long long)r.records_anonymized);
    (void)snprintf(n[3], sizeof n[3], "%lld", (long long)r.fields_purged);
    (void)snprintf(n[4], sizeof n[4], "%lld", (long long)r.usage_purged);
    (void)snprintf(n[5], sizeof n[5], "%lld", (long long)r.keys_destroyed);
    (void)snprintf(n[6], sizeof n[6], "%lld", (long long)r.held);
    pv_log(PV_LOG_INFO, "retention.sweep", "subjects", n[0], "records_purged", n[1],
           "records_anonymized", n[2], "fields_purged", n[3], "usage_purged", n[4],
           "keys_destroyed", n[5], "held", n[6], (char *)NULL);
}

static void *
run(void *arg)
{
    struct pv_vault *v = arg;
    struct pv_maint *m = v->maint;
    int64_t next_sweep = pv_mono_ms() + m->interval_ms;
    struct timespec ts;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += TICK_MS / 1000;
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        watch_keys(v, m);
        if (m->interval_ms > 0 && pv_mono_ms() >= next_sweep) {
            sweep(v);
            next_sweep = pv_mono_ms() + m->interval_ms;
        }
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int
pv_vault_maintenance_start(struct pv_vault *v, int64_t sweep_interval_s)
{
    struct pv_maint *m;
    pthread_condattr_t ca;

    if (v->maint)
        return PV_EEXIST;
    if ((m = calloc(1, sizeof *m)) == NULL)
        return PV_ENOMEM;
    m->interval_ms = sweep_interval_s * 1000;
    if ((size_t)snprintf(m->key_path, sizeof m->key_path, "%s/%s", v->dir, PV_FILE_KEYS) >=
        sizeof m->key_path) {
        free(m);
        return PV_EINVAL;
    }
    stat(m->key_path, &m->key_stamp);
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    v->maint = m;
    if (pthread_create(&m->thread, NULL, run, v) != 0) {
        v->maint = NULL;
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return PV_ENOMEM;
    }
    return 0;
}

void
pv_vault_maintenance_stop(struct pv_vault *v)
{
    struct pv_maint *m = v ? v->maint : NULL;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
    v->maint = NULL;
}
