/* store_int.h: private to the store layer: the headers backends extend. */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include "store/store.h"

/* Every backend connection and statement begins with these. */
struct pv_conn {
    const struct pv_store_ops *ops;
};

struct pv_stmt {
    const struct pv_store_ops *ops;
};

/* Shorthand for the typed files: prepare q on c or return its error. */
#define PREP(c, q, st)                                                                             \
    do {                                                                                           \
        int prep_rc_ = pv_stmt_prepare((c), (q), &(st));                                           \
        if (prep_rc_ != 0)                                                                         \
            return prep_rc_;                                                                       \
    } while (0)

/* Step a statement that returns no rows, reset it, return 0 or the error. */
int pv_stmt_run(struct pv_stmt *st);

#endif
