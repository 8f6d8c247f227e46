/* fuzz_avro_token - the Avro writer's fast path for column tokens
 * (dp_avro_put_token: plain values, strings with escapes, arrays of plain
 * items, VariableScaleDecimal structs, the specials of doubles) against
 * the general path through the JSON parser (dp_avro_encode). The first
 * byte picks a field of a fixed Connect schema, the rest is the token.
 * Whenever the token is valid JSON that the general path encodes, the fast
 * path must write the same bytes; it may be more lenient, never different.
 * The tokens capture writes are JsonConverter's, so always valid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "event/avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const schemas[] = {
    "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true}}",
    "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":false}}",
    "{\"type\":\"array\",\"items\":{\"type\":\"float64\",\"optional\":true}}",
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
    "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],"
    "\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1}",
    "{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
    "\"optional\":false,\"field\":\"scale\"},{\"type\":\"bytes\",\"optional\":false,\"field\":"
    "\"value\"}],\"optional\":true,\"name\":\"io.debezium.data.VariableScaleDecimal\"}}",
    "\"float64\"",
    "\"int64\"",
    "\"int16\"",
    "\"string\"",
    "\"bytes\"",
    "\"boolean\""};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    const char *tok = (const char *)data + 1;
    size_t n = size - 1;
    char err[256];
    dp_buf_t d; /* the token copied as it is, NUL bytes and all */
    dp_buf_init(&d, 16384);
    dp_buf_puts(&d, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":");
    dp_buf_puts(&d, schemas[data[0] % NSCHEMAS]);
    dp_buf_puts(&d, ",\"optional\":true,\"field\":\"f\"}]},\"payload\":{\"f\":");
    dp_buf_append(&d, tok, n);
    dp_buf_puts(&d, "}}");
    const char *doc = (const char *)d.data;
    size_t dl = d.len;
    dp_json_t j = {0};
    dp_avro_schema_t *s = NULL;
    dp_buf_t general, fast;
    dp_buf_init(&general, 1 << 20);
    dp_buf_init(&fast, 1 << 20);
    dp_avro_tok_t k;
    dp_avro_tok_init(&k, 1 << 20);
    if (dp_json_parse(&j, doc, dl, 1u << 16, err, sizeof err) == DP_OK) {
        uint32_t sch = 0, pl = 0;
        for (uint32_t c = j.nodes[0].child; c; c = j.nodes[j.nodes[c].next].next) {
            if (dp_json_key_eq(&j, c, "schema")) sch = j.nodes[c].next;
            if (dp_json_key_eq(&j, c, "payload")) pl = j.nodes[c].next;
        }
        if (sch && pl && dp_avro_schema_new(&j, sch, &s, err, sizeof err) == DP_OK &&
            dp_avro_encode(s, &j, pl, &general, err, sizeof err) == DP_OK) {
            const dp_avro_type_t *t = dp_avro_field_type(dp_avro_schema_root(s), 0);
            if (dp_avro_put_token(t, tok, n, &k, &fast, "f", err, sizeof err) != DP_OK) abort();
            if (fast.len != general.len || memcmp(fast.data, general.data, fast.len)) abort();
        }
    }
    dp_avro_schema_destroy(s);
    dp_json_fini(&j);
    dp_avro_tok_fini(&k);
    dp_buf_fini(&general);
    dp_buf_fini(&fast);
    dp_buf_fini(&d);
    return 0;
}
