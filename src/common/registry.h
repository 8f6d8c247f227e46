/* registry.h - a client of the Confluent schema registry REST API (as
 * Confluent's registry and Apicurio's ccompat API serve it), over libcurl.
 *
 *   register: POST <url>/subjects/<subject>/versions {"schema": "..."}
 *             -> {"id": N}   (what AvroConverter's auto.register.schemas does)
 *   by id:    GET  <url>/schemas/ids/<id> -> {"schema": "..."}
 *
 * The url may list several registries separated by commas (as
 * schema.registry.url does); a network failure moves on to the next one.
 * Network failures and 5xx answers are tried again a few times with
 * backoff; then the error names the registry (credentials in the url left
 * out) and the subject or id. */
#ifndef DP_COMMON_REGISTRY_H
#define DP_COMMON_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"

typedef struct dp_registry dp_registry_t;

/* how the client reaches the registries besides their urls */
typedef struct dp_registry_opts {
    long timeout_ms; /* bounds each request; 0 = 30000 */
    const char *ca_file; /* PEM CAs that sign an https registry's certificate; NULL = system's */
    const char *user_info; /* "user:password" for HTTP basic auth; NULL = none, or the url's */
} dp_registry_opts_t;

/* dp_registry_opts_of: the options a converter side's keys give (side is
 * "key" or "value", for errors): DP_ERR_CONFIG naming the key when
 * basic.auth.credentials.source is USER_INFO without a user.info. */
dp_err_t dp_registry_opts_of(const cfg_registry_side_t *keys, const char *side,
                             dp_registry_opts_t *out, char *errstr, size_t errstr_size);

/* dp_registry_new: a client of urls (comma-separated). Copies what opts
 * points to (NULL = defaults). Returns NULL (with errstr) for an empty url
 * list. */
dp_registry_t *dp_registry_new(const char *urls, const dp_registry_opts_t *opts, char *errstr,
                               size_t errstr_size);
void dp_registry_destroy(dp_registry_t *r);

/* dp_registry_register: the id of schema (Avro schema JSON) under subject,
 * registering it when the subject does not have it yet. */
dp_err_t dp_registry_register(dp_registry_t *r, const char *subject, const char *schema,
                              size_t schema_len, int32_t *id, char *errstr, size_t errstr_size);

/* dp_registry_register_cb: dp_registry_register in the shape of
 * dp_avro_register_fn (event/avro.h), ctx being the dp_registry_t. */
dp_err_t dp_registry_register_cb(void *ctx, const char *subject, const char *schema,
                                 size_t schema_len, int32_t *id, char *errstr, size_t errstr_size);

/* dp_registry_schema: the schema text with this id into out (replacing its
 * content, NUL-terminated). */
dp_err_t dp_registry_schema(dp_registry_t *r, int32_t id, dp_buf_t *out, char *errstr,
                            size_t errstr_size);

/* Parsers of the registry's answer bodies (outside bytes, not
 * NUL-terminated), exposed for tests and fuzzing; the calls above use them. */

/* dp_registry_parse_id: N of a register answer {"id": N}; 0 and *id, or -1
 * (*id unchanged) when body is not JSON or has no integer id in
 * [0, INT32_MAX]. */
int dp_registry_parse_id(const char *body, size_t len, int32_t *id);

/* dp_registry_parse_schema: the decoded "schema" string of a lookup answer
 * into out (replacing its content, NUL-terminated); DP_ERR_PROTO when body is
 * not JSON, has no string schema or it does not fit out's max. */
dp_err_t dp_registry_parse_schema(const char *body, size_t len, dp_buf_t *out);

/* dp_registry_parse_error: an error answer {"error_code": N, "message": "..."}:
 * *code is N (0 if absent or not an integer), msg the decoded message
 * (replacing its content; empty when absent or not a string, possibly only a
 * prefix when longer than msg's max). */
void dp_registry_parse_error(const char *body, size_t len, long long *code, dp_buf_t *msg);

/* dp_registry_redact: url without user:password@, for messages. */
void dp_registry_redact(const char *url, char *out, size_t out_size);

#endif
