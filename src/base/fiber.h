/*
 * fiber: cooperative threads of control, each on a stack of its own.
 *
 * The HTTP layer runs each request in a fiber. When the request must wait
 * for work another thread finishes (its audit entry becoming durable), the
 * fiber parks: control goes back to the thread that ran it, which serves
 * other connections meanwhile, and the fiber continues from where it parked
 * when its owner runs it again. So a few threads keep many requests in
 * flight, and the requests waiting for one fsync share it.
 *
 * The protocol, with the owner being whoever calls pv_fiber_run():
 *   1. pv_fiber_run(f) runs f until it finishes (returns 1) or parks (0);
 *   2. after a park the owner makes itself ready to be woken (the HTTP layer
 *      suspends the connection), then calls pv_fiber_parked(f), which runs
 *      the callback the fiber parked with: that callback hands the fiber's
 *      work to another thread, which calls pv_fiber_wake(f) when done;
 *   3. pv_fiber_wake(f) calls the waker the owner set, from any thread; the
 *      owner then calls pv_fiber_run(f) again, on the thread that created f.
 * Because the work is handed over only in step 2, a wake can never come
 * before the owner is ready for it.
 *
 * Rules for code that runs in a fiber: it never holds a lock or an open
 * database statement across a park (another fiber of the same thread could
 * need it), and it stays on the thread that created it. Stacks are 1 MiB
 * (4 MiB under AddressSanitizer) with a guard page below; they are kept in
 * a pool and reused, never unmapped while the process runs.
 *
 * Thread safety: pv_fiber_wake() may be called from any thread; everything
 * else is called on the thread that owns the fiber.
 */
#ifndef PV_FIBER_H
#define PV_FIBER_H

struct pv_fiber;

/* A new fiber that will run fn(arg) when first run; PV_ENOMEM if no stack could be had. */
int pv_fiber_new(void (*fn)(void *arg), void *arg, struct pv_fiber **out);
/* Free a fiber that finished or never ran; pv_fiber_free(NULL) is a no-op. */
void pv_fiber_free(struct pv_fiber *f);

/* Run f on this thread until it parks (0) or its function returns (1). */
int pv_fiber_run(struct pv_fiber *f);
/* After pv_fiber_run() returned 0: run the callback f parked with (see above). */
void pv_fiber_parked(struct pv_fiber *f);

/* The fiber running on this thread; NULL outside any fiber. */
struct pv_fiber *pv_fiber_current(void);
/*
 * In a fiber: give the thread back to the owner; then(arg) runs once the
 * owner is ready to be woken. Returns when the owner runs the fiber again.
 */
void pv_fiber_park(void (*then)(void *arg), void *arg);

/* How the owner wants to hear that a parked fiber may run again. */
void pv_fiber_set_waker(struct pv_fiber *f, void (*wake)(void *arg), void *arg);
/* Tell f's owner that f may run again; any thread. */
void pv_fiber_wake(struct pv_fiber *f);

#endif
