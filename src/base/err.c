/* err.c: the messages of enum pv_err. */
#include "base/base.h"

static const char *const messages[PV_ERR_COUNT_] = {
    [0] = "success",
    [-PV_ENOMEM] = "out of memory",
    [-PV_EINVAL] = "invalid input",
    [-PV_ENOTFOUND] = "not found",
    [-PV_EEXIST] = "already exists",
    [-PV_EIO] = "input/output error",
    [-PV_ECRYPTO] = "sealed data failed authentication",
    [-PV_EAUTH] = "authentication required",
    [-PV_EDENIED] = "denied by policy",
    [-PV_ENOPURPOSE] = "a purpose is required",
    [-PV_EPURPOSE] = "unknown purpose",
    [-PV_EFIELD] = "field not declared by the collection",
    [-PV_EPOLICYVER] = "policy version not accepted",
    [-PV_EAGE] = "under the minimum age",
    [-PV_EAUDIT] = "audit log unavailable",
    [-PV_EJSON] = "malformed JSON",
    [-PV_ECTYPE] = "unsupported content type",
    [-PV_ETOOBIG] = "input too large",
    [-PV_ENOROUTE] = "no such route",
    [-PV_EMETHOD] = "method not allowed",
    [-PV_ELOGIN] = "invalid credentials",
    [-PV_ESTORE] = "store failure",
    [-PV_EPOLICY] = "invalid policy",
    [-PV_EBUSY] = "busy",
    [-PV_ECONFLICT] = "conflict with current state",
    [-PV_ETAMPER] = "audit log verification failed",
    [-PV_EUNAVAIL] = "service unavailable",
    [-PV_ETHROTTLE] = "too many failed attempts",
    [-PV_EMFA] = "a second factor is required",
    [-PV_ECARD] = "a full payment card number is refused",
    [-PV_ESEALED] = "an end-to-end value must be sealed for readers who may read it",
};

const char *
pv_strerror(int err)
{
    if (err > 0 || err <= -PV_ERR_COUNT_ || messages[-err] == NULL)
        return "unknown error";
    return messages[-err];
}
