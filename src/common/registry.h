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
#include "common/err.h"

typedef struct dp_registry dp_registry_t;

/* dp_registry_new: a client of urls (comma-separated); timeout_ms bounds
 * each request. Returns NULL (with errstr) for an empty url list. */
dp_registry_t *dp_registry_new(const char *urls, long timeout_ms, char *errstr,
                               size_t errstr_size);
void dp_registry_destroy(dp_registry_t *r);

/* dp_registry_register: the id of schema (Avro schema JSON) under subject,
 * registering it when the subject does not have it yet. */
dp_err_t dp_registry_register(dp_registry_t *r, const char *subject, const char *schema,
                              size_t schema_len, int32_t *id, char *errstr, size_t errstr_size);

/* dp_registry_register_cb: dp_registry_register in the shape of
 * dp_avro_register_fn (event/avro.h), ctx being the dp_registry_t. */
dp_err_t dp_registry_register_cb(void *ctx, const char *subject, const char *schema,
                                 size_t schema_len, int32_t *id, char *errstr,
                                 size_t errstr_size);

/* dp_registry_schema: the schema text with this id into out (replacing its
 * content, NUL-terminated). */
dp_err_t dp_registry_schema(dp_registry_t *r, int32_t id, dp_buf_t *out, char *errstr,
                            size_t errstr_size);

/* dp_registry_redact: url without user:password@, for messages. */
void dp_registry_redact(const char *url, char *out, size_t out_size);

#endif
