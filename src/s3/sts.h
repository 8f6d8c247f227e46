/* sts.h - AWS STS AssumeRoleWithWebIdentity: trade a web identity token
 * (the OIDC JWT that EKS projects into a pod for IRSA) for temporary
 * credentials of a role.
 *
 * The call is unsigned, as AWS documents for this action: an HTTPS POST of
 * the form parameters Action, Version (2011-06-15), RoleArn, RoleSessionName
 * and WebIdentityToken to the STS endpoint, answered with XML. The token is
 * a secret: it never reaches a log line or an error message, and request
 * and response bytes are wiped before they are freed.
 *
 * Errors: DP_ERR_S3 when STS refuses (4xx: AccessDenied,
 * InvalidIdentityToken, ExpiredTokenException, ...), DP_ERR_S3_RETRY when it
 * is unreachable, answers 5xx or throttles on every attempt, DP_ERR_PROTO for
 * an answer without credentials. The detail names the role ARN and the
 * endpoint, with STS's Code and Message. */
#ifndef DP_S3_STS_H
#define DP_S3_STS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define S3_STS_VERSION "2011-06-15"
#define S3_STS_MAX_RESPONSE ((size_t)256 << 10) /* an answer is ~2 KiB */
#define S3_STS_ATTEMPTS 3 /* as the SDKs' standard retry mode */

typedef struct s3_sts_request {
    const char *endpoint; /* e.g. https://sts.eu-west-1.amazonaws.com */
    const char *role_arn;
    const char *session_name; /* RoleSessionName */
    const char *token; /* the web identity token itself (secret) */
    long timeout_ms; /* per attempt; 0 = 30000 */
    long backoff_ms; /* first retry delay, doubled with jitter; 0 = 200 */
} s3_sts_request_t;

/* The temporary credentials STS hands out. Strings are heap copies owned by
 * the struct; release with s3_sts_credentials_fini. */
typedef struct s3_sts_credentials {
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL when the answer had an empty one */
    int64_t expires_ms; /* Unix time in ms; 0 when the answer had none */
} s3_sts_credentials_t;

/* s3_sts_assume_role_with_web_identity: call STS with up to
 * S3_STS_ATTEMPTS attempts (retrying connection failures, timeouts, 5xx,
 * 429, Throttling and IDPCommunicationError) and fill *out. *out is always
 * initialized; on failure it holds nothing. */
dp_err_t s3_sts_assume_role_with_web_identity(const s3_sts_request_t *req,
                                              s3_sts_credentials_t *out, char *errstr,
                                              size_t errstr_size);

/* s3_sts_parse_credentials: the Credentials of an
 * AssumeRoleWithWebIdentityResponse document. DP_ERR_PROTO (detail written)
 * when AccessKeyId or SecretAccessKey is missing or empty, an entity is bad
 * or Expiration is not an ISO 8601 UTC time. *out is always initialized. */
dp_err_t s3_sts_parse_credentials(const char *doc, size_t len, s3_sts_credentials_t *out,
                                  char *errstr, size_t errstr_size);

/* s3_sts_parse_time: "YYYY-MM-DDThh:mm:ss[.fff...]Z" (also "+00:00") into
 * Unix milliseconds, the fraction truncated to ms. 0 on success, -1 when
 * malformed, out of range (years 1970..9999) or not UTC. */
int s3_sts_parse_time(const char *s, size_t len, int64_t *ms);

/* s3_sts_regional_endpoint: https://sts.<region>.amazonaws.com (".com.cn"
 * for the cn- regions) into out; region NULL or "" = us-east-1. */
void s3_sts_regional_endpoint(const char *region, char *out, size_t n);

/* s3_sts_credentials_fini: wipe and free; may be called twice. */
void s3_sts_credentials_fini(s3_sts_credentials_t *c);

#endif
