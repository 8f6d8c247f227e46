/* sigv4.h - AWS Signature Version 4 (header-based, single chunk), no network.
 *
 * The pieces follow the spec's four steps, each usable on its own so tests can
 * check every intermediate against AWS's published vectors:
 *   canonical request -> string to sign -> signing key -> signature
 * and s3_sigv4_sign() strings them together for a real request, adding the
 * x-amz-date, x-amz-content-sha256 and x-amz-security-token headers.
 *
 * Paths are given as they go on the wire (the request line). Two flags select
 * between the generic AWS rules and the S3 rules:
 *   - S3 (flags 0): the path is used as sent, only bytes that are not yet
 *     encoded get percent-encoded; "//", "." and ".." stay as they are.
 *   - generic services: S3_SIGV4_DOUBLE_ENCODE encodes the wire path once more
 *     ('%' becomes %25), S3_SIGV4_NORMALIZE_PATH removes dot segments and
 *     repeated slashes first.
 * Secrets are only ever read here; nothing is logged. */
#ifndef DP_S3_SIGV4_H
#define DP_S3_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"

#define S3_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define S3_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define S3_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_SIGV4_HEX_LEN 64 /* hex SHA-256 / signature, without NUL */
#define S3_SIGV4_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ, without NUL */
#define S3_SIGV4_MAX_HEADERS 64 /* headers per request, host included */

enum {
    S3_SIGV4_DOUBLE_ENCODE = 1 << 0, /* generic services: encode the wire path again */
    S3_SIGV4_NORMALIZE_PATH = 1 << 1, /* generic services: RFC 3986 dot-segment removal */
    S3_SIGV4_NO_CONTENT_SHA256 = 1 << 2 /* s3_sigv4_sign: omit x-amz-content-sha256 */
};

typedef struct s3_sigv4_header {
    const char *name; /* any case; signed lowercased */
    const char *value; /* trimmed and inner whitespace runs folded when signed */
} s3_sigv4_header_t;

typedef struct s3_sigv4_request {
    const char *method; /* "GET", "PUT", ... */
    const char *path; /* wire path starting with '/'; NULL or "" means "/" */
    const char *query; /* wire query without '?', NULL or "" for none */
    const s3_sigv4_header_t *headers; /* every header to sign, host included */
    size_t n_headers;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
    int flags; /* S3_SIGV4_* */
} s3_sigv4_request_t;

typedef struct s3_sigv4_signer {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when not temporary credentials */
    const char *region; /* "us-east-1" */
    const char *service; /* "s3" */
} s3_sigv4_signer_t;

/* s3_sigv4_sha256_hex: lowercase hex SHA-256 of data into out (65 bytes). */
void s3_sigv4_sha256_hex(const void *data, size_t len, char out[S3_SIGV4_HEX_LEN + 1]);

/* s3_sigv4_amz_date: t as the ISO 8601 basic UTC form YYYYMMDDTHHMMSSZ. */
void s3_sigv4_amz_date(time_t t, char out[S3_SIGV4_DATE_LEN + 1]);

/* s3_sigv4_uri_encode: append s[0..len) to out with every byte except the
 * RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~) written as %XX (uppercase);
 * '/' is kept when keep_slash (object key paths) and encoded otherwise (query
 * names and values). DP_ERR_NOMEM when out would pass its max. */
dp_err_t s3_sigv4_uri_encode(dp_buf_t *out, const char *s, size_t len, int keep_slash);

/* s3_sigv4_canonical_request: step 1. Writes the canonical request into out
 * and the signed-headers list ("host;x-amz-date") into signed_headers (may be
 * NULL); both are reset first and NUL-terminated. Header names are lowercased
 * and sorted, repeated names joined with ',' in the given order, values
 * trimmed with inner runs of blanks folded to one space. Query parameters are
 * percent-decoded, re-encoded strictly, and sorted by name then value.
 * DP_ERR_INVALID for a missing method or payload hash, a header name that is
 * empty or holds blanks, ':' or control bytes, a value holding CR or LF, or
 * more than S3_SIGV4_MAX_HEADERS headers; DP_ERR_NOMEM past out's max. */
dp_err_t s3_sigv4_canonical_request(const s3_sigv4_request_t *req, dp_buf_t *out,
                                    dp_buf_t *signed_headers, char *errstr, size_t errstr_size);

/* s3_sigv4_string_to_sign: step 2. Resets out and writes
 * "AWS4-HMAC-SHA256\n<amz_date>\n<yyyymmdd>/<region>/<service>/aws4_request\n<hex sha256(creq)>".
 * DP_ERR_INVALID unless amz_date is YYYYMMDDTHHMMSSZ and region and service
 * are set; DP_ERR_NOMEM past out's max. */
dp_err_t s3_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                                 const char *creq, size_t creq_len, dp_buf_t *out);

/* s3_sigv4_signing_key: step 3. HMAC chain "AWS4"+secret -> date (YYYYMMDD, the
 * first 8 characters of amz_date) -> region -> service -> "aws4_request". */
void s3_sigv4_signing_key(const char *secret_key, const char *amz_date, const char *region,
                          const char *service, unsigned char key[32]);

/* s3_sigv4_signature: step 4. Lowercase hex HMAC-SHA256(key, sts). */
void s3_sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len,
                        char out[S3_SIGV4_HEX_LEN + 1]);

/* s3_sigv4_authorization: steps 1-4 for a request whose headers already hold
 * x-amz-date (and whatever else is to be signed). Resets out and writes the
 * Authorization header value:
 * "AWS4-HMAC-SHA256 Credential=<ak>/<scope>, SignedHeaders=<list>, Signature=<hex>". */
dp_err_t s3_sigv4_authorization(const s3_sigv4_request_t *req, const s3_sigv4_signer_t *signer,
                                const char *amz_date, dp_buf_t *out, char *errstr,
                                size_t errstr_size);

/* s3_sigv4_sign: sign req as of time now. The headers of req plus
 * x-amz-date, x-amz-content-sha256 (the payload hash, unless
 * S3_SIGV4_NO_CONTENT_SHA256) and x-amz-security-token (when the signer has a
 * session token) are signed; req must not carry those three itself. Resets
 * out_headers and writes every header to send, the given ones first and
 * Authorization last, each as "Name: value" followed by a NUL byte, ready for
 * an HTTP client's header list. */
dp_err_t s3_sigv4_sign(const s3_sigv4_signer_t *signer, const s3_sigv4_request_t *req, time_t now,
                       dp_buf_t *out_headers, char *errstr, size_t errstr_size);

#endif
