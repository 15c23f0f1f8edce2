/* test_fiber.c: fibers: run, park, wake from another thread, deep stacks, many at once. */
#include "testutil.h"

#include <pthread.h>

#include "base/base.h"
#include "base/fiber.h"

/* An owner that records wakes; its fibers park handing their "work" to a list. */
struct owner {
    int wakes;
    int handed;
};

static void
count_wake(void *arg)
{
    ((struct owner *)arg)->wakes++;
}

static void
hand_over(void *arg)
{
    ((struct owner *)arg)->handed++;
}

struct steps {
    struct owner *o;
    int step;
    double f; /* floating point survives the switches too */
};

static void
three_steps(void *arg)
{
    struct steps *s = arg;
    volatile double x = 1.5;

    assert_non_null(pv_fiber_current());
    s->step = 1;
    pv_fiber_park(hand_over, s->o);
    s->step = 2;
    x *= 2;
    pv_fiber_park(hand_over, s->o);
    s->step = 3;
    s->f = x * 2;
}

static void
test_run_park_finish(void **state)
{
    struct owner o = {0, 0};
    struct steps s = {&o, 0, 0};
    struct pv_fiber *f;

    (void)state;
    assert_int_equal(pv_fiber_new(three_steps, &s, &f), 0);
    pv_fiber_set_waker(f, count_wake, &o);
    assert_null(pv_fiber_current());
    assert_int_equal(pv_fiber_run(f), 0); /* parked */
    assert_int_equal(s.step, 1);
    assert_null(pv_fiber_current());
    /* The work is handed over only once the owner says it is ready. */
    assert_int_equal(o.handed, 0);
    pv_fiber_parked(f);
    assert_int_equal(o.handed, 1);
    pv_fiber_wake(f);
    assert_int_equal(o.wakes, 1);
    assert_int_equal(pv_fiber_run(f), 0);
    assert_int_equal(s.step, 2);
    pv_fiber_parked(f);
    assert_int_equal(pv_fiber_run(f), 1); /* finished */
    assert_int_equal(s.step, 3);
    assert_true(s.f == 6.0);
    assert_int_equal(pv_fiber_run(f), 1); /* and stays finished */
    pv_fiber_free(f);
    pv_fiber_free(NULL);
}

/* A frame of 600 KiB, touched at both ends: the stack must hold it. */
static void
deep_fn(void *arg)
{
    volatile char big[600 * 1024];

    big[0] = 1;
    big[sizeof big - 1] = 2;
    *(int *)arg = big[0] + big[sizeof big - 1] - 3;
}

static void
test_deep_stack(void **state)
{
    struct pv_fiber *f;
    int out = -1;

    (void)state;
    assert_int_equal(pv_fiber_new(deep_fn, &out, &f), 0);
    assert_int_equal(pv_fiber_run(f), 1);
    assert_int_equal(out, 0);
    pv_fiber_free(f);
}

/* Many fibers parked at once on one thread, woken by another thread in any order. */
#define MANY 300

struct many {
    struct pv_fiber *f[MANY];
    int woken[MANY];
    int done[MANY];
    pthread_mutex_t mu;
    int ready; /* fibers whose work was handed over */
};

struct one {
    struct many *m;
    int i;
};

static void
mark_ready(void *arg)
{
    struct many *m = arg;

    pthread_mutex_lock(&m->mu);
    m->ready++;
    pthread_mutex_unlock(&m->mu);
}

static void
mark_woken(void *arg)
{
    struct one *o = arg;

    pthread_mutex_lock(&o->m->mu);
    o->m->woken[o->i] = 1;
    pthread_mutex_unlock(&o->m->mu);
}

static void
park_once(void *arg)
{
    struct one *o = arg;

    pv_fiber_park(mark_ready, o->m);
    o->m->done[o->i] = 1;
}

static void *
waker(void *arg)
{
    struct many *m = arg;

    /* Backwards, from another thread: the order of wakes is not the order of parks. */
    for (int i = MANY - 1; i >= 0; i--)
        pv_fiber_wake(m->f[i]);
    return NULL;
}

static void
test_many_fibers(void **state)
{
    struct many *m = calloc(1, sizeof *m);
    struct one *ones = calloc(MANY, sizeof *ones);
    pthread_t t;

    (void)state;
    pthread_mutex_init(&m->mu, NULL);
    for (int i = 0; i < MANY; i++) {
        ones[i].m = m;
        ones[i].i = i;
        assert_int_equal(pv_fiber_new(park_once, &ones[i], &m->f[i]), 0);
        pv_fiber_set_waker(m->f[i], mark_woken, &ones[i]);
        assert_int_equal(pv_fiber_run(m->f[i]), 0);
        pv_fiber_parked(m->f[i]);
    }
    assert_int_equal(m->ready, MANY);
    assert_int_equal(pthread_create(&t, NULL, waker, m), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < MANY; i++) {
        assert_true(m->woken[i]);
        assert_int_equal(pv_fiber_run(m->f[i]), 1);
        assert_true(m->done[i]);
        pv_fiber_free(m->f[i]);
    }
    /* Stacks come back from the pool: a new round reuses them and still works. */
    for (int i = 0; i < MANY; i++) {
        m->done[i] = 0;
        assert_int_equal(pv_fiber_new(park_once, &ones[i], &m->f[i]), 0);
        assert_int_equal(pv_fiber_run(m->f[i]), 0);
        pv_fiber_parked(m->f[i]);
        assert_int_equal(pv_fiber_run(m->f[i]), 1);
        assert_true(m->done[i]);
        pv_fiber_free(m->f[i]);
    }
    pthread_mutex_destroy(&m->mu);
    free(ones);
    free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_park_finish),
        cmocka_unit_test(test_deep_stack),
        cmocka_unit_test(test_many_fibers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
