/* client.h - a small S3 client on libcurl: put (single or multipart, also
 * streamed), get, head, delete, list (ListObjectsV2).
 *
 * Every request is signed with SigV4 by s3/sigv4 (payload hash of the real
 * body; never CURLOPT_AWS_SIGV4). One client owns one curl easy handle and so
 * one kept-alive connection: a client is used by one thread at a time; make
 * one per thread for parallel uploads.
 *
 * Errors: DP_ERR_S3 for answers that retrying cannot change (4xx: access
 * denied, bad signature, no such key/bucket, ...), DP_ERR_S3_RETRY for 5xx,
 * 429, SlowDown, RequestTimeout, curl timeouts and connection failures, still
 * failing after max_retries retries. The detail names the method, the key,
 * the HTTP status and S3's error Code and Message, never a secret.
 *
 * Memory: response bodies go into bounded buffers; an upload holds at most
 * one part (part_size bytes) besides the caller's data. */
#ifndef DP_S3_CLIENT_H
#define DP_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define S3_MIN_PART_SIZE ((size_t)5 << 20) /* S3's minimum for all parts but the last */
#define S3_MAX_PART_SIZE ((size_t)5 << 30) /* S3's maximum part */
#define S3_DEFAULT_PART_SIZE ((size_t)25 << 20) /* the Confluent sink's s3.part.size */
#define S3_MAX_PARTS 10000 /* S3's limit per multipart upload */
#define S3_MAX_KEY_LEN 1024 /* bytes of UTF-8 */
#define S3_MAX_BACKOFF_MS 30000L
#define S3_DEFAULT_TIMEOUT_MS 30000L
#define S3_DEFAULT_BACKOFF_MS 200L

typedef struct s3_config {
    const char *endpoint; /* e.g. http://127.0.0.1:9000;
                                  NULL = https://s3.<region>.amazonaws.com */
    const char *region; /* NULL = "us-east-1" */
    const char *bucket;
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL unless temporary credentials */
    int path_style; /* 1: http://host/bucket/key (custom endpoints); 0: bucket.host */
    size_t part_size; /* multipart above this; 0 = 25 MiB; min 5 MiB, max 5 GiB */
    const char *sse; /* NULL, "AES256", "aws:kms" */
    const char *kms_key_id; /* with sse "aws:kms"; NULL = the account's default key */
    long timeout_ms; /* connect timeout, and abort when no byte moves for this
                                  long; 0 = 30000 */
    int max_retries; /* retries after the first attempt; 0 = none; seed: 3 */
    long retry_backoff_ms; /* first delay, doubled per retry with jitter, capped at
                                  30000; 0 = 200 */
    int list_max_keys; /* ListObjectsV2 page size; 0 = server default (1000) */
    int create_only; /* uploads (s3_upload_commit) send If-None-Match: *, so an
                                  existing key is never replaced: DP_ERR_EXISTS instead */
    const char *ca_file; /* PEM CA certificates that sign an https endpoint's
                                  certificate; NULL = the system's CAs */
} s3_config_t;

typedef struct s3_client s3_client_t;
typedef struct s3_upload s3_upload_t;

/* s3_client_new: a client for cfg->bucket. Copies every string of cfg, so
 * cfg may go away afterwards. NULL with errstr set for an invalid
 * configuration (no bucket or credentials, bad endpoint, part size out of
 * range, unknown sse). Performs no request. */
s3_client_t *s3_client_new(const s3_config_t *cfg, char *errstr, size_t errstr_size);

/* s3_client_destroy: close the connection and wipe the copied secrets. NULL ok. */
void s3_client_destroy(s3_client_t *c);

/* s3_client_set_credentials: replace the keys (and session token, may be
 * NULL) that sign the following requests, e.g. when temporary credentials
 * from STS are refreshed before they expire. Copies the strings. */
dp_err_t s3_client_set_credentials(s3_client_t *c, const char *access_key, const char *secret_key,
                                   const char *session_token, char *errstr, size_t errstr_size);

/* s3_put_object: store data[0..len) under key. Up to part_size bytes go in one
 * PUT; larger objects use a multipart upload (create, parts of part_size,
 * complete) and abort it when a step fails, so no parts are left behind.
 * content_type NULL means application/octet-stream. */
dp_err_t s3_put_object(s3_client_t *c, const char *key, const void *data, size_t len,
                       const char *content_type, char *errstr, size_t errstr_size);

/* Streaming upload for objects built incrementally (Parquet files):
 *   u = s3_upload_begin(c, key, type);
 *   s3_upload_write(u, ...) any number of times;
 *   then exactly one of s3_upload_commit(u, ...) or s3_upload_abort(u).
 * Both end the upload and free u. Data is buffered up to part_size; once more
 * than one part's worth arrived a multipart upload starts and full parts go
 * out as they fill. Nothing is visible under key before commit succeeds. */

/* s3_upload_begin: start an upload to key (copied); performs no request. */
s3_upload_t *s3_upload_begin(s3_client_t *c, const char *key, const char *content_type);

/* s3_upload_write: append data; may upload a part (and retry it). After a
 * failure u only accepts s3_upload_abort (commit fails with the same error). */
dp_err_t s3_upload_write(s3_upload_t *u, const void *data, size_t len, char *errstr,
                         size_t errstr_size);

/* s3_upload_commit: make the object visible: one PUT if everything fit in one
 * part, else upload the last part and complete. On failure a started
 * multipart upload is aborted. Frees u either way. With create_only, a key
 * that exists already (412 PreconditionFailed) is DP_ERR_EXISTS; that
 * includes a retry whose earlier attempt stored the object but lost the
 * answer. */
dp_err_t s3_upload_commit(s3_upload_t *u, char *errstr, size_t errstr_size);

/* s3_upload_abort: abort a started multipart upload (best effort) and free
 * u. NULL ok. */
void s3_upload_abort(s3_upload_t *u);

/* s3_get_object: append the object's bytes to out (bounded by out->max:
 * DP_ERR_NOMEM when the object is larger; out is then back at its old
 * length). A missing key is DP_ERR_S3 with "NoSuchKey" in errstr. */
dp_err_t s3_get_object(s3_client_t *c, const char *key, dp_buf_t *out, char *errstr,
                       size_t errstr_size);

/* s3_get_tail: append the last n bytes of the object (all of it when it
 * is shorter) to out, with a suffix Range request; bounds as s3_get_object. */
dp_err_t s3_get_tail(s3_client_t *c, const char *key, size_t n, dp_buf_t *out, char *errstr,
                     size_t errstr_size);

/* s3_head_object: *exists = 1 and *size (may be NULL) when key exists;
 * *exists = 0 and DP_OK when it does not. */
dp_err_t s3_head_object(s3_client_t *c, const char *key, int *exists, uint64_t *size, char *errstr,
                        size_t errstr_size);

/* s3_delete_object: delete key; deleting a missing key succeeds (as in S3). */
dp_err_t s3_delete_object(s3_client_t *c, const char *key, char *errstr, size_t errstr_size);

/* s3_list_fn: called once per object, in key order. A non-zero return stops
 * the listing and becomes s3_list_objects' result. */
typedef dp_err_t (*s3_list_fn)(void *ctx, const char *key, uint64_t size);

/* s3_list_objects: every object whose key starts with prefix ("" or NULL =
 * all), following continuation tokens across pages. */
dp_err_t s3_list_objects(s3_client_t *c, const char *prefix, s3_list_fn fn, void *ctx, char *errstr,
                         size_t errstr_size);

/* ---- parsers of S3's answers (exposed for tests and fuzzing) ---- */

/* s3_list_parse: one ListObjectsV2 answer page doc[0..len) (not
 * NUL-terminated): fn(ctx, key, size) for each <Contents> in document
 * order, the key unescaped into key (NUL-terminated; its max bounds a key).
 * Returns DP_OK, DP_ERR_PROTO for an entry without a readable Key and Size
 * (*stopped 0), or fn's non-zero result (*stopped 1). On DP_OK, *truncated
 * is 1 when <IsTruncated> is "true", and then token holds the unescaped
 * <NextContinuationToken> (empty when it is absent, empty or unreadable);
 * token is emptied otherwise. */
dp_err_t s3_list_parse(const char *doc, size_t len, s3_list_fn fn, void *ctx, dp_buf_t *key,
                       dp_buf_t *token, int *truncated, int *stopped);

/* s3_parse_error_body: S3's <Error><Code>..</Code><Message>..</Message> in
 * doc[0..len) (not NUL-terminated), unescaped into code and msg (both always
 * NUL-terminated, "" when absent or unreadable, cut to their sizes; msg
 * without its trailing dots, blanks and newlines). codesz, msgsz > 0. */
void s3_parse_error_body(const char *doc, size_t len, char *code, size_t codesz, char *msg,
                         size_t msgsz);

/* ---- retry policy, shared with callers that retry at a higher level ---- */

/* s3_classify_http: DP_OK for 2xx without an error code; DP_ERR_S3_RETRY for
 * 5xx, 429 and the retriable codes (SlowDown, RequestTimeout, InternalError,
 * ServiceUnavailable, ...) whatever the status; DP_ERR_S3 otherwise. code
 * is S3's <Code>, NULL if none. */
dp_err_t s3_classify_http(long status, const char *code);

/* s3_backoff_ms: delay before retry number attempt (0-based): base doubled
 * per attempt, capped at S3_MAX_BACKOFF_MS, then drawn uniformly from
 * [half, full] using rnd ("equal jitter"). */
long s3_backoff_ms(long base_ms, int attempt, uint64_t rnd);

#endif
