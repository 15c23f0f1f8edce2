/* policy_int.h: private to the policy layer. */
#ifndef PV_POLICY_INT_H
#define PV_POLICY_INT_H

#include "policy/policy.h"

struct pv_arena *pv_arena_new(void);
void pv_arena_free(struct pv_arena *a);
/* Zeroed, aligned memory owned by the arena; NULL when out of memory. */
void *pv_arena_alloc(struct pv_arena *a, size_t n);
char *pv_arena_strndup(struct pv_arena *a, const char *s, size_t n);

#endif
