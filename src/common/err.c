/* err.c - error names, retry classification, detail formatting. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *dp_err_name(dp_err_t err) {
    switch (err) {
    case DP_OK: return "ok";
    case DP_ERR_INVALID: return "invalid";
    case DP_ERR_CONFIG: return "config";
    case DP_ERR_NOMEM: return "nomem";
    case DP_ERR_IO: return "io";
    case DP_ERR_NET: return "net";
    case DP_ERR_PG: return "postgres";
    case DP_ERR_KAFKA: return "kafka";
    case DP_ERR_S3: return "s3";
    case DP_ERR_S3_RETRY: return "s3_retriable";
    case DP_ERR_PROTO: return "protocol";
    case DP_ERR_UNSUPPORTED: return "unsupported";
    case DP_ERR_STOPPED: return "stopped";
    case DP_ERR_FULL: return "full";
    case DP_ERR_EXISTS: return "exists";
    }
    return "unknown";
}

int dp_err_retriable(dp_err_t err) {
    return err == DP_ERR_NET || err == DP_ERR_S3_RETRY || err == DP_ERR_FULL;
}

dp_err_t dp_seterr(char *errstr, size_t errstr_size, dp_err_t err, const char *fmt, ...) {
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
