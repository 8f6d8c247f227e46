/* avro.h - Confluent's AvroConverter, as a transcoder of JsonConverter output.
 *
 * Events are encoded once, as Kafka's JsonConverter writes them with schemas
 * enabled ({"schema": <Connect schema>, "payload": <value>}); when a
 * converter is io.confluent.connect.avro.AvroConverter, that JSON is turned
 * into Confluent's wire format: byte 0x00, the schema id (4 bytes, big
 * endian), the Avro binary encoding of the payload. So every event shape
 * (envelopes, keys, transforms, transaction records, heartbeats) gets Avro
 * by the same generic path and stays consistent with the JSON form.
 *
 * Schema translation follows AvroData.fromConnectSchema (schema-registry's
 * avro-data) with AvroConverter's default settings (connect.meta.data on,
 * enhanced schema support and name scrubbing off):
 *   - int8/int16 -> "int" with "connect.type"; int32 "int"; int64 "long";
 *     float32 "float"; float64 "double" (JsonConverter names them so too);
 *     boolean; string; bytes;
 *   - struct -> record named after the Connect name split at its last dot
 *     (unnamed: io.confluent.connect.avro.ConnectDefault[N]); a record met
 *     again is a reference by name, as Avro writes it;
 *   - array -> array; map with required string keys -> map, other maps ->
 *     array of io.confluent.connect.avro.MapEntry records (key, value);
 *   - optional -> union ["null", T] with field default null, or [T, "null"]
 *     when the field has a default value (which becomes the field default);
 *   - "connect.doc", "connect.version", "connect.parameters",
 *     "connect.default", "connect.name", "connect.type" properties in that
 *     order; Decimal -> bytes with "scale", "precision" (connect.decimal.
 *     precision, else 64) and logicalType decimal; Connect Date, Time and
 *     Timestamp -> logicalType date, time-millis, timestamp-millis.
 * Differences from AvroData, on purpose: Connect unions and enums of the
 * enhanced schema support (off by default) are plain structs and strings
 * here; a struct name reused with different fields is an error here where
 * Avro fails the same way. Names are validated as Avro does (an illegal
 * character is an error naming it), not scrubbed. */
#ifndef DP_EVENT_AVRO_H
#define DP_EVENT_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

/* ---- Avro binary primitives (exposed for tests) ---- */

/* dp_avro_put_long: zigzag varint of v (int and long alike). */
dp_err_t dp_avro_put_long(dp_buf_t *b, int64_t v);
/* dp_avro_put_bytes: length (as long) then the bytes; strings alike. */
dp_err_t dp_avro_put_bytes(dp_buf_t *b, const void *p, size_t n);
/* dp_avro_get_long: read a zigzag varint at p[*pos..n), advancing *pos. */
dp_err_t dp_avro_get_long(const uint8_t *p, size_t n, size_t *pos, int64_t *v);
/* dp_base64_decode: standard base64 (padding optional) into out. */
dp_err_t dp_base64_decode(const char *s, size_t n, dp_buf_t *out);

/* ---- schema translation ---- */

typedef struct dp_avro_schema dp_avro_schema_t;

/* dp_avro_schema_new: compile the Connect schema at node of j (the JSON form
 * JsonConverter writes under "schema") into *out: its Avro schema JSON and
 * the plan that encodes payloads. Bad or unsupported schemas are an error. */
dp_err_t dp_avro_schema_new(const dp_json_t *j, uint32_t node, dp_avro_schema_t **out, char *errstr,
                            size_t errstr_size);
void dp_avro_schema_destroy(dp_avro_schema_t *s);
/* dp_avro_schema_json: the Avro schema, NUL-terminated, as AvroData names it. */
const char *dp_avro_schema_json(const dp_avro_schema_t *s, size_t *len);

/* dp_avro_encode: append the Avro binary encoding of the Connect JSON value
 * at node of j (a JsonConverter payload) under schema s to out. */
dp_err_t dp_avro_encode(const dp_avro_schema_t *s, const dp_json_t *j, uint32_t node, dp_buf_t *out,
                        char *errstr, size_t errstr_size);

/* ---- writing typed values under a compiled schema ----
 *
 * The event writers (src/event/event.c) walk a compiled schema's records
 * and put each value in place, with no JSON in between for the envelope's
 * own fields. A column value comes as its Connect JSON token (what
 * JsonConverter writes for it); plain tokens are encoded straight away,
 * composite ones (arrays, structs) through the same rules as
 * dp_avro_encode. */

typedef struct dp_avro_type dp_avro_type_t;

const dp_avro_type_t *dp_avro_schema_root(const dp_avro_schema_t *s);
int dp_avro_is_record(const dp_avro_type_t *t);
uint32_t dp_avro_nfields(const dp_avro_type_t *t);
const char *dp_avro_field_name(const dp_avro_type_t *t, uint32_t i);
const dp_avro_type_t *dp_avro_field_type(const dp_avro_type_t *t, uint32_t i);

/* dp_avro_put_null: a null under t (an error naming field when t is
 * required). dp_avro_put_present: the union branch of a value under an
 * optional t (nothing for a required one); the value follows. */
dp_err_t dp_avro_put_null(const dp_avro_type_t *t, dp_buf_t *out, const char *field, char *errstr,
                          size_t errstr_size);
dp_err_t dp_avro_put_present(const dp_avro_type_t *t, dp_buf_t *out);
/* a string or an integer (int or long) under t, union branch included */
dp_err_t dp_avro_put_string(const dp_avro_type_t *t, const char *s, size_t n, dp_buf_t *out,
                            const char *field, char *errstr, size_t errstr_size);
dp_err_t dp_avro_put_integer(const dp_avro_type_t *t, int64_t v, dp_buf_t *out, const char *field,
                             char *errstr, size_t errstr_size);

/* dp_avro_put_array: an array of count items under t (union branch
 * included, one block), *items their type; the caller puts each item,
 * then dp_avro_put_array_end. */
dp_err_t dp_avro_put_array(const dp_avro_type_t *t, uint64_t count, dp_buf_t *out,
                           const dp_avro_type_t **items, const char *field, char *errstr,
                           size_t errstr_size);
dp_err_t dp_avro_put_array_end(dp_buf_t *out);

/* the reusable state of dp_avro_put_token */
typedef struct dp_avro_tok {
    dp_buf_t text; /* for the caller: where it writes the token */
    dp_buf_t scratch;
    dp_json_t j;
} dp_avro_tok_t;
void dp_avro_tok_init(dp_avro_tok_t *k, size_t max_bytes);
void dp_avro_tok_fini(dp_avro_tok_t *k);

/* dp_avro_put_token: the Connect JSON value s[0..n) (one token as
 * JsonConverter writes it: a number, a string, true/false, null, or an
 * array or object) under t, exactly as dp_avro_encode would encode it. */
dp_err_t dp_avro_put_token(const dp_avro_type_t *t, const char *s, size_t n, dp_avro_tok_t *k,
                           dp_buf_t *out, const char *field, char *errstr, size_t errstr_size);

/* ---- the converter ---- */

/* dp_avro_register_fn: give the schema id of schema (Avro JSON) under
 * subject, registering it if needed (the schema registry client). */
typedef dp_err_t (*dp_avro_register_fn)(void *ctx, const char *subject, const char *schema,
                                        size_t schema_len, int32_t *id, char *errstr,
                                        size_t errstr_size);

typedef struct dp_avro_conv dp_avro_conv_t;

/* dp_avro_conv_new: a converter for keys (is_key: subject <topic>-key) or
 * values (<topic>-value, TopicNameStrategy) whose outputs may grow up to
 * max_bytes. Schemas are cached with their ids (at most max_schemas, then
 * the cache starts over), so the registry is asked once per schema. */
dp_avro_conv_t *dp_avro_conv_new(int is_key, size_t max_bytes, size_t max_schemas,
                                 dp_avro_register_fn reg, void *reg_ctx);
void dp_avro_conv_destroy(dp_avro_conv_t *cv);

/* dp_avro_conv_run: transcode json[0..len) ({"schema":..., "payload":...})
 * for topic into out (replacing its content) in Confluent's wire format. */
dp_err_t dp_avro_conv_run(dp_avro_conv_t *cv, const char *topic, const void *json, size_t len,
                          dp_buf_t *out, char *errstr, size_t errstr_size);

/* dp_avro_conv_schema: the compiled schema and registry id for the Connect
 * schema JSON schema[0..len) (the "schema" part of the JsonConverter form)
 * of topic, from the cache or compiled and registered now. *s stays valid
 * while dp_avro_conv_generation(cv) is unchanged. */
dp_err_t dp_avro_conv_schema(dp_avro_conv_t *cv, const char *topic, const char *schema, size_t len,
                             const dp_avro_schema_t **s, int32_t *id, char *errstr,
                             size_t errstr_size);
uint64_t dp_avro_conv_generation(const dp_avro_conv_t *cv);
/* dp_avro_put_header: Confluent's wire-format header, 0x00 and the id */
dp_err_t dp_avro_put_header(dp_buf_t *out, int32_t id);

/* dp_avro_conv_registrations: how many times the registry was asked. */
uint64_t dp_avro_conv_registrations(const dp_avro_conv_t *cv);

/* ---- the way back: Avro -> JsonConverter payload (the archive's reader) ---- */

typedef struct dp_avro_reader dp_avro_reader_t;

/* dp_avro_reader_new: a decoding plan for the Avro schema text (a writer
 * schema from the registry). Records, arrays, maps, unions of null and one
 * type, and AvroData's MapEntry arrays are read; enums, fixed and wider
 * unions (which AvroData does not write by default) are refused. */
dp_err_t dp_avro_reader_new(const char *schema, size_t len, dp_avro_reader_t **out, char *errstr,
                            size_t errstr_size);
void dp_avro_reader_destroy(dp_avro_reader_t *r);

/* dp_avro_to_json: append the value encoded in p[0..n) (exactly) as
 * JsonConverter would write its payload: bytes (and Decimals) base64,
 * floats as Java prints them (NaN and the infinities as strings), maps
 * with other than string keys as [key, value] pairs. */
dp_err_t dp_avro_to_json(const dp_avro_reader_t *r, const uint8_t *p, size_t n, dp_buf_t *out,
                         char *errstr, size_t errstr_size);

/* dp_avro_fetch_fn: the schema text with this id (the registry client). */
typedef dp_err_t (*dp_avro_fetch_fn)(void *ctx, int32_t id, dp_buf_t *schema, char *errstr,
                                     size_t errstr_size);

typedef struct dp_avro_deconv dp_avro_deconv_t;

/* dp_avro_deconv_new: a reader of Confluent wire-format records whose
 * writer schemas are fetched by id and kept (at most max_schemas). */
dp_avro_deconv_t *dp_avro_deconv_new(size_t max_schemas, dp_avro_fetch_fn fetch, void *ctx);
void dp_avro_deconv_destroy(dp_avro_deconv_t *d);

/* dp_avro_deconv_run: wire[0..len) (0x00, id, Avro body) into out
 * (replacing its content) as the JsonConverter payload. A failed fetch
 * returns the fetch's error (DP_ERR_NET when the registry is away: the
 * record is fine, try later); bad bytes are DP_ERR_INVALID. */
dp_err_t dp_avro_deconv_run(dp_avro_deconv_t *d, const void *wire, size_t len, dp_buf_t *out,
                            char *errstr, size_t errstr_size);

/* dp_avro_deconv_reader: the reader of the writer schema whose id the
 * wire-format record wire[0..len) carries (fetched and kept as by
 * dp_avro_deconv_run); its Avro body is wire + 5. */
dp_err_t dp_avro_deconv_reader(dp_avro_deconv_t *d, const void *wire, size_t len,
                               const dp_avro_reader_t **reader, char *errstr, size_t errstr_size);

/* ---- a record's fields where they are wanted (the archive's row) ---- */

typedef enum {
    DP_AVRO_GOT_NONE,
    DP_AVRO_GOT_STRING,
    DP_AVRO_GOT_INT,
    DP_AVRO_GOT_JSON,
    DP_AVRO_GOT_OTHER
} dp_avro_got_kind_t;

typedef struct dp_avro_got {
    int present; /* the record has the field */
    int null;
    dp_avro_got_kind_t kind;
    const char *s; /* STRING: the raw bytes, into the input */
    size_t n; /* STRING: length; JSON: length of the text */
    int64_t i; /* INT */
    size_t off; /* JSON: offset of the text in the json buffer */
} dp_avro_got_t;

/* dp_avro_read_fields: read the record encoded in p[0..n) (exactly) under
 * r, and fill got[i] for each wanted path want[i]: a top-level field
 * ("op") or one of a top-level record ("source.table"). A wanted string or
 * integer is read as it is; a wanted record, array or map is written into
 * json as JsonConverter's payload text (what dp_avro_to_json writes for
 * it); everything else is decoded into scratch and dropped. */
dp_err_t dp_avro_read_fields(const dp_avro_reader_t *r, const uint8_t *p, size_t n,
                             const char *const *want, size_t nwant, dp_avro_got_t *got,
                             dp_buf_t *json, dp_buf_t *scratch, char *errstr, size_t errstr_size);

#endif
