/* arena.c: the allocation arena that owns a loaded policy's strings and arrays. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

#define BLOCK_MIN 8192

struct block {
    struct block *next;
    size_t used, cap;
    max_align_t data[];
};

struct pv_arena {
    struct block *head;
};

struct pv_arena *
pv_arena_new(void)
{
    return calloc(1, sizeof(struct pv_arena));
}

void
pv_arena_free(struct pv_arena *a)
{
    struct block *b, *n;

    if (a == NULL)
        return;
    for (b = a->head; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *
pv_arena_alloc(struct pv_arena *a, size_t n)
{
    size_t align = sizeof(max_align_t), cap;
    struct block *b = a->head;
    void *p;

    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (b == NULL || b->cap - b->used < n) {
        cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *
pv_arena_strndup(struct pv_arena *a, const char *s, size_t n)
{
    char *p = pv_arena_alloc(a, n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
