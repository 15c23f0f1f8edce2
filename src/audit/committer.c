/*
 * committer.c: group commit of audit entries and the writes they record.
 *
 * Callers queue jobs and wait on a semaphore of their own (so a batch wakes
 * exactly its callers, not every waiter); the one committer thread takes
 * everything queued, applies and appends it in one
 * transaction, signs the new head, commits (one fsync) and wakes the
 * callers. The chain state (last sequence and hash) belongs to the
 * committer thread alone and is restored when a batch rolls back.
 *
 * Other processes may append to the same log while the server runs (the
 * command-line sweep, backup and key rotation each have a committer of
 * their own), so every batch re-reads the chain's end inside its write
 * transaction, where SQLite's write lock makes the appenders take turns.
 * The end must agree with the signed head, which every appender writes in
 * the same transaction as its entries: a log cut short or rewritten behind
 * the server's back fails the batch (fail closed) instead of being
 * continued and re-signed.
 *
 * A caller running in a fiber (base/fiber.h: every HTTP request) does not
 * block its thread: it parks, its job is queued once its owner is ready to
 * be woken, and the committer wakes the fiber instead of posting. A caller
 * whose thread's reader connection has a statement open falls back to
 * blocking, so no other fiber of that thread can disturb the statement.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/fiber.h"

#define MAX_BATCH 512

struct job {
    struct pv_audit_row *entries;
    int n;
    pv_apply_fn apply;
    void *arg;
    int rc;
    sem_t done;             /* posted by the committer once the job's batch is durable */
    struct pv_fiber *fiber; /* or, for a parked fiber, woken instead */
    struct pv_audit *a;     /* for queueing from the fiber's owner */
    struct job *next;
};

struct pv_audit {
    struct pv_store *store;
    struct pv_conn *w;
    struct pv_signer *signer;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the committer waits for jobs */
    struct job *head, **tail;
    int stopping;
    /* committer thread only */
    int64_t seq;
    unsigned char last[PV_HASH_BYTES];
    int64_t last_checkpoint;
};

static int
sign_into(struct pv_audit *a, int64_t seq, const unsigned char hash[PV_HASH_BYTES],
          struct pv_checkpoint *k)
{
    unsigned char msg[PV_CHECKPOINT_MSG_BYTES];

    k->seq = seq;
    k->ts_ms = pv_now_ms();
    memcpy(k->hash, hash, PV_HASH_BYTES);
    pv_checkpoint_message(k, msg);
    pv_signer_sign(a->signer, msg, sizeof msg, k->sig);
    return 0;
}

/* Run one job inside the open transaction. */
static int
run_job(struct pv_audit *a, struct job *j)
{
    struct pv_checkpoint k;
    int rc;

    if (j->apply) {
        if ((rc = pv_store_exec(a->w, "SAVEPOINT job")) != 0)
            return rc;
        j->rc = j->apply(a->w, j->arg);
        if (j->rc != 0 && (rc = pv_store_exec(a->w, "ROLLBACK TO SAVEPOINT job")) != 0)
            return rc;
        if ((rc = pv_store_exec(a->w, "RELEASE SAVEPOINT job")) != 0)
            return rc;
    }
    for (int i = 0; i < j->n; i++) {
        struct pv_audit_row *r = &j->entries[i];
        r->seq = a->seq + 1;
        r->ts_ms = pv_now_ms();
        pv_audit_hash(a->last, r, r->hash);
        if ((rc = pv_store_audit_insert(a->w, r)) != 0)
            return rc;
        a->seq = r->seq;
        memcpy(a->last, r->hash, PV_HASH_BYTES);
        if (a->seq - a->last_checkpoint >= PV_AUDIT_CHECKPOINT_EVERY) {
            sign_into(a, a->seq, a->last, &k);
            if ((rc = pv_store_checkpoint_put(a->w, &k)) != 0)
                return rc;
            a->last_checkpoint = a->seq;
        }
    }
    return 0;
}

/* The chain's end as stored, checked against the signed head; inside the transaction. */
static int
read_end(struct pv_audit *a)
{
    struct pv_checkpoint head;
    int rc = pv_store_audit_last(a->w, &a->seq, a->last);

    if (rc != 0)
        return rc;
    rc = pv_store_head_get(a->w, &head);
    if (rc == PV_ENOTFOUND)
        return a->seq == 0 ? 0 : PV_ETAMPER;
    if (rc != 0)
        return rc;
    if (head.seq != a->seq || !pv_secret_equal(head.hash, a->last, PV_HASH_BYTES))
        return PV_ETAMPER;
    a->last_checkpoint = a->seq - a->seq % PV_AUDIT_CHECKPOINT_EVERY;
    return 0;
}

static void
run_batch(struct pv_audit *a, struct job *batch)
{
    int64_t seq0 = a->seq, cp0 = a->last_checkpoint;
    unsigned char last0[PV_HASH_BYTES];
    struct pv_checkpoint head;
    struct job *j;
    int rc;

    memcpy(last0, a->last, PV_HASH_BYTES);
    rc = pv_store_begin(a->w);
    if (rc == 0 && (rc = read_end(a)) == 0) {
        seq0 = a->seq;
        cp0 = a->last_checkpoint;
        memcpy(last0, a->last, PV_HASH_BYTES);
    }
    for (j = batch; rc == 0 && j; j = j->next)
        rc = run_job(a, j);
    if (rc == 0 && a->seq != seq0) {
        sign_into(a, a->seq, a->last, &head);
        rc = pv_store_head_put(a->w, &head);
    }
    if (rc == 0)
        rc = pv_store_commit(a->w);
    if (rc != 0) {
        char code[16];
        (void)snprintf(code, sizeof code, "%d", rc);
        pv_log(PV_LOG_ERROR, "audit.commit_failed", "error", pv_strerror(rc), "code", code,
               (char *)NULL);
        pv_store_rollback(a->w);
        a->seq = seq0;
        a->last_checkpoint = cp0;
        memcpy(a->last, last0, PV_HASH_BYTES);
        for (j = batch; j; j = j->next)
            j->rc = PV_EAUDIT;
    }
}

static void *
committer(void *arg)
{
    struct pv_audit *a = arg;
    struct job *batch, *j, *next, **cut;
    int n;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->head == NULL && !a->stopping)
            pthread_cond_wait(&a->work_cv, &a->mu);
        if (a->head == NULL && a->stopping)
            break;
        /* Take up to MAX_BATCH jobs off the queue. */
        batch = a->head;
        for (n = 0, cut = &a->head; *cut && n < MAX_BATCH; cut = &(*cut)->next)
            n++;
        a->head = *cut;
        *cut = NULL;
        if (a->head == NULL)
            a->tail = &a->head;
        pthread_mutex_unlock(&a->mu);

        run_batch(a, batch);
        /* j->next is read before the wake: the waiter's job may vanish right after. */
        for (j = batch; j; j = next) {
            next = j->next;
            if (j->fiber)
                pv_fiber_wake(j->fiber);
            else
                sem_post(&j->done);
        }
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int
pv_audit_open(struct pv_store *store, const char *signing_key_path, struct pv_audit **out)
{
    struct pv_checkpoint head;
    struct pv_audit *a = calloc(1, sizeof *a);
    int rc;

    if (a == NULL)
        return PV_ENOMEM;
    a->store = store;
    a->tail = &a->head;
    rc = pv_signer_load(signing_key_path, &a->signer);
    if (rc == 0)
        rc = pv_store_conn_open(store, 1, &a->w);
    if (rc == 0)
        rc = pv_store_audit_last(a->w, &a->seq, a->last);
    if (rc == 0) {
        /* Checkpoints continue from the last one kept, or from the head. */
        a->last_checkpoint = a->seq - a->seq % PV_AUDIT_CHECKPOINT_EVERY;
        if (pv_store_head_get(a->w, &head) == 0 && head.seq > a->seq)
            rc = PV_ETAMPER; /* the log lost entries the head signed */
    }
    if (rc == 0) {
        pthread_mutex_init(&a->mu, NULL);
        pthread_cond_init(&a->work_cv, NULL);
        if (pthread_create(&a->thread, NULL, committer, a) != 0) {
            pthread_mutex_destroy(&a->mu);
            pthread_cond_destroy(&a->work_cv);
            rc = PV_ENOMEM;
        }
    }
    if (rc != 0) {
        pv_store_conn_close(a->w);
        pv_signer_free(a->signer);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void
pv_audit_close(struct pv_audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    pthread_cond_signal(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->work_cv);
    pv_store_checkpoint(a->w);
    pv_store_conn_close(a->w);
    pv_signer_free(a->signer);
    free(a);
}

/* Queue j for the committer; PV_EUNAVAIL once the log is closing. */
static int
enqueue(struct pv_audit *a, struct job *j)
{
    pthread_mutex_lock(&a->mu);
    if (a->stopping) {
        pthread_mutex_unlock(&a->mu);
        return PV_EUNAVAIL;
    }
    *a->tail = j;
    a->tail = &j->next;
    pthread_cond_signal(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* Runs on the fiber owner's stack once it is ready to be woken. */
static void
enqueue_parked(void *arg)
{
    struct job *j = arg;
    int rc;

    /* Once queued the job belongs to the committer: j->rc is written only if it was not. */
    if ((rc = enqueue(j->a, j)) != 0) {
        j->rc = rc;
        pv_fiber_wake(j->fiber);
    }
}

int
pv_audit_commit(struct pv_audit *a, struct pv_audit_row *entries, int n, pv_apply_fn apply,
                void *arg)
{
    struct job j = {.entries = entries, .n = n, .apply = apply, .arg = arg, .a = a};
    int rc;

    if ((j.fiber = pv_fiber_current()) != NULL && !pv_store_reader_busy(a->store)) {
        pv_fiber_park(enqueue_parked, &j);
        return j.rc;
    }
    j.fiber = NULL;
    if (sem_init(&j.done, 0, 0) != 0)
        return PV_ENOMEM;
    if ((rc = enqueue(a, &j)) != 0) {
        sem_destroy(&j.done);
        return rc;
    }
    while (sem_wait(&j.done) != 0)
        ; /* EINTR: keep waiting, the committer will post */
    sem_destroy(&j.done);
    return j.rc;
}
