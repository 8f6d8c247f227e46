/* err.h - the one error type every fallible datapipe call returns.
 *
 * Contract: 0 is success; codes are only ever added, never renumbered.
 * Fallible functions take (char *errstr, size_t errstr_size) and write a
 * lowercase, human-readable detail there on failure. dp_err_retriable()
 * is the single place where errors are sorted into retriable and fatal. */
#ifndef DP_COMMON_ERR_H
#define DP_COMMON_ERR_H

#include <stddef.h>

typedef enum dp_err {
    DP_OK = 0,
    DP_ERR_INVALID = 1, /* bad argument or input bytes */
    DP_ERR_CONFIG = 2, /* bad configuration */
    DP_ERR_NOMEM = 3, /* a configured bound was hit */
    DP_ERR_IO = 4, /* local I/O */
    DP_ERR_NET = 5, /* network, retriable */
    DP_ERR_PG = 6, /* PostgreSQL said no */
    DP_ERR_KAFKA = 7, /* Kafka said no */
    DP_ERR_S3 = 8, /* S3 said no (non-retriable status) */
    DP_ERR_S3_RETRY = 9, /* S3 5xx, throttling, timeout */
    DP_ERR_PROTO = 10, /* a peer sent bytes we cannot parse */
    DP_ERR_UNSUPPORTED = 11,
    DP_ERR_STOPPED = 12, /* asked to stop */
    DP_ERR_FULL = 13, /* no room right now, try later */
    DP_ERR_EXISTS = 14 /* a create-only write found the object already there */
} dp_err_t;

/* dp_err_name: a stable short name for err, never NULL. */
const char *dp_err_name(dp_err_t err);

/* dp_err_retriable: 1 when repeating the failed call later may succeed. */
int dp_err_retriable(dp_err_t err);

/* dp_seterr: printf-style write into errstr (may be NULL), returns err. */
dp_err_t dp_seterr(char *errstr, size_t errstr_size, dp_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
