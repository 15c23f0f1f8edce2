/*
 * audit: the append-only, tamper-evident log, and the only way to write.
 *
 * Every entry is hashed into a chain: hash = BLAKE2b(prev hash, sequence,
 * time, every field). In the same transaction as each batch of entries the
 * committer re-signs the head (sequence and hash of the last entry) with the
 * Ed25519 audit key, and every PV_AUDIT_CHECKPOINT_EVERY entries it keeps a
 * signed checkpoint. pv_audit_verify() recomputes the chain and checks the
 * signatures, so any change, deletion, reordering or truncation of entries
 * is found and the first bad entry named.
 *
 * Group commit: one committer thread owns the store's writer connection.
 * pv_audit_commit() queues a job (entries plus an optional apply function
 * that makes the write the entries record) and blocks; the committer takes
 * every queued job, runs them in one transaction (each apply in a savepoint
 * of its own), appends their entries, re-signs the head and commits: one
 * fsync for the whole batch. The caller wakes once its entries are durable.
 * If the transaction fails, every job of the batch gets PV_EAUDIT and
 * nothing of it is applied (fail closed).
 *
 * Thread safety: pv_audit_commit() may be called from any number of threads.
 */
#ifndef PV_AUDIT_H
#define PV_AUDIT_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "store/store.h"

#define PV_AUDIT_CHECKPOINT_EVERY 1000

struct pv_audit;

/* Makes a write on the committer's connection; 0 or a pv_err. */
typedef int (*pv_apply_fn)(struct pv_conn *w, void *arg);

/* Start the committer on store, signing with the key at signing_key_path. */
int pv_audit_open(struct pv_store *store, const char *signing_key_path, struct pv_audit **out);
/* Finish every queued job, stop the committer, free a. */
void pv_audit_close(struct pv_audit *a);

/*
 * Append n entries (their seq, ts_ms and hash are set here) and, in the same
 * transaction, run apply(writer, arg) unless apply is NULL. apply runs before
 * the entries are hashed, so it may set their outcome (action, decision,
 * reason, categories) from what it found inside the transaction. Returns once
 * durable: 0; apply's error (the entries are still appended: they record
 * decisions, and apply's changes are rolled back); or PV_EAUDIT when the log
 * could not be written, in which case nothing was applied.
 *
 * Called in a fiber (base/fiber.h), it parks the fiber rather than blocking
 * the thread, so the caller must not hold a lock across the call.
 */
int pv_audit_commit(struct pv_audit *a, struct pv_audit_row *entries, int n, pv_apply_fn apply,
                    void *arg);

/* The chain hash of r following prev. */
void pv_audit_hash(const unsigned char prev[PV_HASH_BYTES], const struct pv_audit_row *r,
                   unsigned char out[PV_HASH_BYTES]);

/* The message a checkpoint's signature covers. */
#define PV_CHECKPOINT_MSG_BYTES (16 + 8 + 8 + PV_HASH_BYTES)
void pv_checkpoint_message(const struct pv_checkpoint *k,
                           unsigned char out[PV_CHECKPOINT_MSG_BYTES]);

struct pv_audit_report {
    int64_t entries;     /* entries checked */
    int64_t checkpoints; /* signed checkpoints checked (head included) */
    int64_t bad_seq;     /* the first bad entry, 0 if none */
    char problem[256];   /* what is wrong, "" if intact */
};

/*
 * Verify the whole log readable through c against public key pk. Returns 0
 * if intact, PV_ETAMPER with rep->problem and rep->bad_seq if not. progress
 * (may be NULL) is called now and then with entries done and the total.
 */
int pv_audit_verify(struct pv_conn *c, const unsigned char pk[PV_SIGN_PK_BYTES],
                    struct pv_audit_report *rep,
                    void (*progress)(int64_t done, int64_t total, void *arg), void *arg);
/*
 * The same for the log of store s, checked in `threads` ranges at once, each
 * on a connection of its own (every link is checked on its own, so the result
 * is the same: the smallest bad entry any range finds). threads <= 0: one per
 * CPU for a large log, one for a small one. progress is called from the
 * calling thread only.
 */
int pv_audit_verify_store(struct pv_store *s, int threads, const unsigned char pk[PV_SIGN_PK_BYTES],
                          struct pv_audit_report *rep,
                          void (*progress)(int64_t done, int64_t total, void *arg), void *arg);

#endif
