/* fuzz_avro - the JsonConverter -> Avro transcoder and the Avro -> JSON
 * reader on arbitrary bytes: any {"schema", "payload"} document either
 * fails cleanly or gives the wire format (magic byte, schema id) and an
 * Avro schema that is valid JSON; what was encoded reads back under that
 * schema, and encoding what was read gives the same bytes again. The
 * field reader of the archive's row (dp_avro_read_fields) runs on the
 * encoded value and on the raw input under the same schema. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "event/avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int bad_schema;

static dp_err_t check_register(void *ctx, const char *subject, const char *schema, size_t len,
                               int32_t *id, char *errstr, size_t n) {
    (void)ctx;
    (void)errstr;
    (void)n;
    if (strcmp(subject, "fuzz-value") != 0) abort();
    dp_json_t j = {0};
    char err[128];
    /* what would be registered must be JSON */
    if (dp_json_parse(&j, schema, len, 1u << 20, err, sizeof err) != DP_OK) bad_schema = 1;
    dp_json_fini(&j);
    *id = 7;
    return DP_OK;
}

/* the archive's field reader: wanted fields found where they are, the
 * composite ones as text inside the JSON buffer */
static void read_fields(const dp_avro_reader_t *r, const uint8_t *p, size_t n) {
    static const char *const want[] = {"op", "before", "after", "source.table", "source.lsn", "a"};
    dp_avro_got_t got[6];
    dp_buf_t json, scratch;
    dp_buf_init(&json, 1 << 22);
    dp_buf_init(&scratch, 1 << 22);
    char err[256];
    if (dp_avro_read_fields(r, p, n, want, 6, got, &json, &scratch, err, sizeof err) == DP_OK) {
        for (int i = 0; i < 6; i++) {
            if (got[i].kind == DP_AVRO_GOT_JSON && got[i].off + got[i].n > json.len) abort();
            if (got[i].kind == DP_AVRO_GOT_STRING && got[i].n &&
                (got[i].s < (const char *)p || got[i].s + got[i].n > (const char *)p + n))
                abort();
        }
    }
    dp_buf_fini(&json);
    dp_buf_fini(&scratch);
}

/* encode, read back, encode the reading: the same bytes */
static void roundtrip(const uint8_t *data, size_t size) {
    dp_json_t j = {0}, back = {0};
    char err[512];
    dp_avro_schema_t *s = NULL;
    dp_avro_reader_t *r = NULL;
    dp_buf_t bin, json, bin2;
    dp_buf_init(&bin, 1 << 20);
    dp_buf_init(&json, 1 << 22);
    dp_buf_init(&bin2, 1 << 20);
    if (dp_json_parse(&j, (const char *)data, size, 1u << 16, err, sizeof err) == DP_OK) {
        uint32_t sch = dp_json_get(&j, 0, "schema"), pl = dp_json_get(&j, 0, "payload");
        if (sch && pl && dp_avro_schema_new(&j, sch, &s, err, sizeof err) == DP_OK &&
            dp_avro_encode(s, &j, pl, &bin, err, sizeof err) == DP_OK) {
            size_t len;
            const char *text = dp_avro_schema_json(s, &len);
            if (dp_avro_reader_new(text, len, &r, err, sizeof err) != DP_OK) abort();
            if (dp_avro_to_json(r, bin.data, bin.len, &json, err, sizeof err) != DP_OK) abort();
            if (dp_json_parse(&back, (const char *)json.data, json.len, 1u << 20, err,
                              sizeof err) != DP_OK)
                abort();
            if (dp_avro_encode(s, &back, 0, &bin2, err, sizeof err) != DP_OK) abort();
            if (bin.len != bin2.len || memcmp(bin.data, bin2.data, bin.len) != 0) abort();
            read_fields(r, bin.data, bin.len);
            read_fields(r, data, size); /* any bytes: fails cleanly or reads */
        }
    }
    dp_avro_reader_destroy(r);
    dp_avro_schema_destroy(s);
    dp_json_fini(&j);
    dp_json_fini(&back);
    dp_buf_fini(&bin);
    dp_buf_fini(&json);
    dp_buf_fini(&bin2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dp_avro_conv_t *cv;
    static dp_buf_t out;
    if (!cv) {
        /* a small cache, so eviction runs too */
        cv = dp_avro_conv_new(0, 1 << 20, 8, check_register, NULL);
        dp_buf_init(&out, 1 << 20);
    }
    char err[512];
    bad_schema = 0;
    if (dp_avro_conv_run(cv, "fuzz", data, size, &out, err, sizeof err) == DP_OK) {
        if (out.len < 5 || memcmp(out.data, "\0\0\0\0\x07", 5) != 0) abort();
    }
    if (bad_schema) abort();
    roundtrip(data, size);
    return 0;
}
