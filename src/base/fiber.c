/*
 * fiber.c: fibers with stacks from a pool.
 *
 * On x86-64 a switch saves the callee-saved registers, the stack pointer
 * and the floating-point control words, and loads another fiber's: a few
 * instructions. Elsewhere it uses ucontext, whose swapcontext() also saves
 * the signal mask with a system call at every switch (phivault never
 * changes the mask of a pool thread, so there is nothing to save).
 *
 * Under AddressSanitizer every switch is announced to the sanitizer
 * (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber) so it
 * knows which stack is live; otherwise it would report the other stack's
 * frames as errors.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fiber.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PV_ASAN)
#define PV_ASAN 1
#endif

#ifdef PV_ASAN
#include <sanitizer/common_interface_defs.h>
#define STACK_SIZE (4u << 20) /* instrumented frames are larger */
#else
#define STACK_SIZE (1u << 20)
#endif
#define POOL_MAX 512 /* stacks kept for reuse */

/* ---- the switch ---------------------------------------------------------- */

#if defined(__x86_64__)
/*
 * ctx_switch(save, load): push the callee-saved registers and the MXCSR and
 * x87 control words, store the stack pointer in *save, take load as the
 * stack pointer, pop what that stack holds, and return into it.
 */
struct ctx {
    void *sp;
};

void pv_ctx_switch_(void **save, void *load);
__asm__(".text\n"
        ".globl pv_ctx_switch_\n"
        ".type pv_ctx_switch_,@function\n"
        "pv_ctx_switch_:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size pv_ctx_switch_, .-pv_ctx_switch_\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");

static void
ctx_switch(struct ctx *save, struct ctx *load)
{
    pv_ctx_switch_(&save->sp, load->sp);
}

/*
 * A new stack that the first switch enters at entry: below a zero return
 * address (entry never returns), the entry address for the `ret`, six zero
 * registers and the default control words (MXCSR 0x1f80, x87 0x037f).
 */
static int
ctx_make(struct ctx *c, void *stack, size_t size, void (*entry)(void))
{
    char *end = (char *)stack + size;
    uint64_t *sp = (uint64_t *)(void *)(end - ((uintptr_t)end & 15)); /* 16-byte aligned */

    *--sp = 0;
    *--sp = (uint64_t)(uintptr_t)entry;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    *--sp = UINT64_C(0x1f80) | UINT64_C(0x037f) << 32;
    c->sp = sp;
    return 0;
}
#else
#include <ucontext.h>

struct ctx {
    ucontext_t uc;
};

static void
ctx_switch(struct ctx *save, struct ctx *load)
{
    swapcontext(&save->uc, &load->uc);
}

static int
ctx_make(struct ctx *c, void *stack, size_t size, void (*entry)(void))
{
    if (getcontext(&c->uc) != 0)
        return -1;
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, entry, 0);
    return 0;
}
#endif

struct pv_fiber {
    struct ctx ctx;    /* the fiber's own context */
    struct ctx caller; /* where pv_fiber_run() was called */
    void *map;         /* the stack's mapping: a guard page, then the stack */
    void (*fn)(void *arg);
    void *arg;
    int done;
    void (*then)(void *arg); /* set by pv_fiber_park(), run by pv_fiber_parked() */
    void *then_arg;
    void (*wake)(void *arg);
    void *wake_arg;
#ifdef PV_ASAN
    void *fake_stack;          /* the fiber's fake stack while it is switched out */
    const void *caller_bottom; /* the caller's stack, for switching back */
    size_t caller_size;
#endif
};

static _Thread_local struct pv_fiber *current;

/* ---- the stack pool ---------------------------------------------------- */

struct stack {
    struct stack *next; /* lives at the top of a pooled stack */
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stack *pool;
static unsigned pool_n;

static size_t
guard_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);

    return ps > 0 ? (size_t)ps : 4096;
}

static void *
stack_get(void)
{
    struct stack *s;
    void *map;

    pthread_mutex_lock(&pool_mu);
    if ((s = pool) != NULL) {
        pool = s->next;
        pool_n--;
    }
    pthread_mutex_unlock(&pool_mu);
    if (s != NULL)
        return (char *)s - (guard_size() + STACK_SIZE - sizeof *s);
    /* MAP_NORESERVE: only the pages a request really touches are ever backed. */
    map = mmap(NULL, guard_size() + STACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    /* An overflow faults on the guard page instead of writing over a neighbour. */
    if (mprotect(map, guard_size(), PROT_NONE) != 0) {
        munmap(map, guard_size() + STACK_SIZE);
        return NULL;
    }
    return map;
}

static void
stack_put(void *map)
{
    struct stack *s = (struct stack *)((char *)map + guard_size() + STACK_SIZE - sizeof *s);

    pthread_mutex_lock(&pool_mu);
    if (pool_n < POOL_MAX) {
        s->next = pool;
        pool = s;
        pool_n++;
        s = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    if (s != NULL)
        munmap(map, guard_size() + STACK_SIZE);
}

/* ---- switching ----------------------------------------------------------- */

static void *
stack_bottom(const struct pv_fiber *f)
{
    return (char *)f->map + guard_size();
}

static size_t
stack_usable(void)
{
    return STACK_SIZE - 64; /* stack_put()'s link lives in the top bytes */
}

static void
trampoline(void)
{
    struct pv_fiber *f = current;

#ifdef PV_ASAN
    __sanitizer_finish_switch_fiber(NULL, &f->caller_bottom, &f->caller_size);
#endif
    f->fn(f->arg);
    f->done = 1;
#ifdef PV_ASAN
    /* NULL: this fiber's fake stack may go, it never runs again. */
    __sanitizer_start_switch_fiber(NULL, f->caller_bottom, f->caller_size);
#endif
    ctx_switch(&f->ctx, &f->caller);
    abort(); /* a finished fiber is never switched to */
}

int
pv_fiber_new(void (*fn)(void *arg), void *arg, struct pv_fiber **out)
{
    struct pv_fiber *f = calloc(1, sizeof *f);

    if (f == NULL)
        return PV_ENOMEM;
    f->fn = fn;
    f->arg = arg;
    /* The top of the stack is left alone: stack_put() keeps the pool's link there. */
    if ((f->map = stack_get()) == NULL ||
        ctx_make(&f->ctx, stack_bottom(f), stack_usable(), trampoline) != 0) {
        if (f->map)
            stack_put(f->map);
        free(f);
        return PV_ENOMEM;
    }
    *out = f;
    return 0;
}

void
pv_fiber_free(struct pv_fiber *f)
{
    if (f == NULL)
        return;
    stack_put(f->map);
    free(f);
}

int
pv_fiber_run(struct pv_fiber *f)
{
    struct pv_fiber *outer = current;
#ifdef PV_ASAN
    void *fake = NULL;
#endif

    if (f->done)
        return 1;
    current = f;
#ifdef PV_ASAN
    __sanitizer_start_switch_fiber(&fake, stack_bottom(f), stack_usable());
#endif
    ctx_switch(&f->caller, &f->ctx);
#ifdef PV_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    current = outer;
    return f->done;
}

void
pv_fiber_parked(struct pv_fiber *f)
{
    void (*then)(void *) = f->then;

    f->then = NULL;
    if (then)
        then(f->then_arg);
}

struct pv_fiber *
pv_fiber_current(void)
{
    return current;
}

void
pv_fiber_park(void (*then)(void *arg), void *arg)
{
    struct pv_fiber *f = current;

    f->then = then;
    f->then_arg = arg;
#ifdef PV_ASAN
    __sanitizer_start_switch_fiber(&f->fake_stack, f->caller_bottom, f->caller_size);
#endif
    ctx_switch(&f->ctx, &f->caller);
#ifdef PV_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

void
pv_fiber_set_waker(struct pv_fiber *f, void (*wake)(void *arg), void *arg)
{
    f->wake = wake;
    f->wake_arg = arg;
}

void
pv_fiber_wake(struct pv_fiber *f)
{
    /* Read both first: once woken, the fiber may run, finish and be freed. */
    void (*wake)(void *) = f->wake;
    void *arg = f->wake_arg;

    wake(arg);
}
