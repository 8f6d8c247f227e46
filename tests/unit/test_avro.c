/* test_avro - Avro binary primitives (zigzag varints at every width
 * boundary, strings, bytes), Connect schema -> Avro schema as AvroData
 * writes it (names, namespaces, references, unions, defaults, Decimal,
 * int16), payload encoding (unions both ways round, decimals, floats with
 * NaN, arrays, maps), the converter's wire format and id cache, and the
 * errors for bad input. */
#include <math.h>
#include <stdlib.h>

#include "event/avro.h"
#include "testlib.h"

static dp_buf_t b;

static const uint8_t *lng(int64_t v) {
    dp_buf_reset(&b);
    dp_avro_put_long(&b, v);
    return b.data;
}

static int roundtrip(int64_t v) {
    dp_buf_reset(&b);
    dp_avro_put_long(&b, v);
    size_t pos = 0;
    int64_t got = 0;
    return dp_avro_get_long(b.data, b.len, &pos, &got) == DP_OK && got == v && pos == b.len;
}

/* parse a Connect schema, translate it, return the Avro JSON (static) */
static const char *translate(const char *connect, char *err, size_t errn) {
    static char out[8192];
    dp_json_t j = {0};
    out[0] = 0;
    if (dp_json_parse(&j, connect, strlen(connect), 100000, err, errn) != DP_OK) {
        snprintf(out, sizeof out, "PARSE: %s", err);
        return out;
    }
    dp_avro_schema_t *s = NULL;
    if (dp_avro_schema_new(&j, 0, &s, err, errn) == DP_OK) {
        snprintf(out, sizeof out, "%s", dp_avro_schema_json(s, NULL));
        dp_avro_schema_destroy(s);
    } else {
        snprintf(out, sizeof out, "ERROR");
    }
    dp_json_fini(&j);
    return out;
}

/* encode payload under the translation of connect into b */
static dp_err_t encode(const char *connect, const char *payload, char *err, size_t errn) {
    dp_json_t js = {0}, jp = {0};
    dp_avro_schema_t *s = NULL;
    dp_err_t e = dp_json_parse(&js, connect, strlen(connect), 100000, err, errn);
    if (!e) e = dp_avro_schema_new(&js, 0, &s, err, errn);
    if (!e) e = dp_json_parse(&jp, payload, strlen(payload), 100000, err, errn);
    dp_buf_reset(&b);
    if (!e) e = dp_avro_encode(s, &jp, 0, &b, err, errn);
    dp_avro_schema_destroy(s);
    dp_json_fini(&js);
    dp_json_fini(&jp);
    return e;
}

#define VALUE_FIELDS                                                                               \
    "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"                                   \
    "{\"type\":\"int16\",\"optional\":true,\"field\":\"s\"},"                                      \
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","    \
    "\"version\":1,\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"5\"},"          \
    "\"field\":\"n\"},"                                                                            \
    "{\"type\":\"string\",\"optional\":true,\"default\":\"dflt\",\"field\":\"t\"}]"

static const char *ENVELOPE =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"struct\",\"fields\":" VALUE_FIELDS
    ",\"optional\":true,\"name\":\"p.public.t.Value\","
    "\"field\":\"before\"},"
    "{\"type\":\"struct\",\"fields\":" VALUE_FIELDS
    ",\"optional\":true,\"name\":\"p.public.t.Value\","
    "\"field\":\"after\"},"
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":"
    "\"version\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
    "\"parameters\":{\"allowed\":\"true,last,false,incremental\"},\"default\":\"false\","
    "\"field\":\"snapshot\"}],\"optional\":false,\"name\":\"io.debezium.connector.postgresql."
    "Source\","
    "\"field\":\"source\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}"
    "],\"optional\":false,\"name\":\"p.public.t.Envelope\",\"version\":2}";

static const char *ENVELOPE_AVRO =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"p.public.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"int\"},"
    "{\"name\":\"s\",\"type\":[\"null\",{\"type\":\"int\",\"connect.type\":\"int16\"}],\"default\":"
    "null},"
    "{\"name\":\"n\",\"type\":[\"null\",{\"type\":\"bytes\",\"scale\":2,\"precision\":5,"
    "\"connect.version\":1,\"connect.parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":"
    "\"5\"},"
    "\"connect.name\":\"org.apache.kafka.connect.data.Decimal\",\"logicalType\":\"decimal\"}],"
    "\"default\":null},"
    "{\"name\":\"t\",\"type\":[{\"type\":\"string\",\"connect.default\":\"dflt\"},\"null\"],"
    "\"default\":\"dflt\"}"
    "],\"connect.name\":\"p.public.t.Value\"}],\"default\":null},"
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"],\"default\":null},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\","
    "\"namespace\":\"io.debezium.connector.postgresql\",\"fields\":["
    "{\"name\":\"version\",\"type\":\"string\"},"
    "{\"name\":\"snapshot\",\"type\":[{\"type\":\"string\",\"connect.version\":1,"
    "\"connect.parameters\":{\"allowed\":\"true,last,false,incremental\"},\"connect.default\":"
    "\"false\","
    "\"connect.name\":\"io.debezium.data.Enum\"},\"null\"],\"default\":\"false\"}"
    "],\"connect.name\":\"io.debezium.connector.postgresql.Source\"}},"
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null}"
    "],\"connect.version\":2,\"connect.name\":\"p.public.t.Envelope\"}";

static int calls;
static dp_err_t fake_register(void *ctx, const char *subject, const char *schema, size_t len,
                              int32_t *id, char *errstr, size_t n) {
    (void)schema;
    (void)len;
    (void)errstr;
    (void)n;
    calls++;
    snprintf((char *)ctx, 256, "%s", subject);
    *id = 1000 + calls;
    return DP_OK;
}

static dp_err_t failing_register(void *ctx, const char *subject, const char *schema, size_t len,
                                 int32_t *id, char *errstr, size_t n) {
    (void)ctx;
    (void)schema;
    (void)len;
    (void)id;
    return dp_seterr(errstr, n, DP_ERR_NET, "registry down for \"%s\"", subject);
}

int main(void) {
    dp_buf_init(&b, 1 << 20);
    char err[512];

    /* zigzag varints: the Avro spec's table and every 7-bit boundary */
    lng(0);
    CHECK_EQ_MEM(b.data, b.len, "\x00", 1);
    lng(-1);
    CHECK_EQ_MEM(b.data, b.len, "\x01", 1);
    lng(1);
    CHECK_EQ_MEM(b.data, b.len, "\x02", 1);
    lng(-2);
    CHECK_EQ_MEM(b.data, b.len, "\x03", 1);
    lng(2);
    CHECK_EQ_MEM(b.data, b.len, "\x04", 1);
    lng(-64);
    CHECK_EQ_MEM(b.data, b.len, "\x7f", 1);
    lng(64);
    CHECK_EQ_MEM(b.data, b.len, "\x80\x01", 2);
    lng(INT32_MAX);
    CHECK_EQ_MEM(b.data, b.len, "\xfe\xff\xff\xff\x0f", 5);
    lng(INT32_MIN);
    CHECK_EQ_MEM(b.data, b.len, "\xff\xff\xff\xff\x0f", 5);
    lng(INT64_MAX);
    CHECK_EQ_MEM(b.data, b.len, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    lng(INT64_MIN);
    CHECK_EQ_MEM(b.data, b.len, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    for (int s = 0; s < 63; s++) {
        int64_t v = (int64_t)1 << s;
        CHECK(roundtrip(v) && roundtrip(v - 1) && roundtrip(-v) && roundtrip(-v - 1));
    }
    CHECK(roundtrip(INT64_MAX) && roundtrip(INT64_MIN));
    {
        /* truncated and over-long varints are refused */
        size_t pos = 0;
        int64_t v;
        CHECK_EQ_INT(dp_avro_get_long((const uint8_t *)"\x80", 1, &pos, &v), DP_ERR_INVALID);
        pos = 0;
        CHECK_EQ_INT(dp_avro_get_long((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
                                      10, &pos, &v),
                     DP_ERR_INVALID);
    }
    /* strings and bytes: length then content */
    dp_buf_reset(&b);
    dp_avro_put_bytes(&b, "foo", 3);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x06"
                 "foo",
                 4);
    dp_buf_reset(&b);
    dp_avro_put_bytes(&b, "", 0);
    CHECK_EQ_MEM(b.data, b.len, "\x00", 1);

    /* base64 (RFC 4648 vectors, padding optional, garbage refused) */
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_base64_decode("Zm9vYmE=", 8, &b), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "fooba", 5);
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_base64_decode("Zm9vYg", 6, &b), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "foob", 4);
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_base64_decode("3q2+7wA=", 8, &b), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\xde\xad\xbe\xef\x00", 5);
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_base64_decode("Zm9v!", 5, &b), DP_ERR_INVALID);
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_base64_decode("Z", 1, &b), DP_ERR_INVALID);

    /* schema translation: Debezium's envelope as AvroData writes it */
    CHECK_EQ_STR(translate(ENVELOPE, err, sizeof err), ENVELOPE_AVRO);
    /* primitives without properties are bare names; int8 carries its type */
    CHECK_EQ_STR(translate("{\"type\":\"int64\",\"optional\":false}", err, sizeof err), "\"long\"");
    CHECK_EQ_STR(translate("{\"type\":\"int8\",\"optional\":true}", err, sizeof err),
                 "[\"null\",{\"type\":\"int\",\"connect.type\":\"int8\"}]");
    /* Connect's logical types; Decimal without precision gets 64 */
    CHECK_EQ_STR(
        translate("{\"type\":\"int32\",\"optional\":false,\"name\":\"org.apache.kafka.connect."
                  "data.Date\",\"version\":1}",
                  err, sizeof err),
        "{\"type\":\"int\",\"connect.version\":1,\"connect.name\":\"org.apache.kafka.connect."
        "data.Date\",\"logicalType\":\"date\"}");
    CHECK_EQ_STR(
        translate("{\"type\":\"int64\",\"optional\":false,\"name\":\"org.apache.kafka.connect."
                  "data.Timestamp\",\"version\":1}",
                  err, sizeof err),
        "{\"type\":\"long\",\"connect.version\":1,\"connect.name\":\"org.apache.kafka.connect."
        "data.Timestamp\",\"logicalType\":\"timestamp-millis\"}");
    CHECK_EQ_STR(
        translate("{\"type\":\"bytes\",\"optional\":false,\"name\":\"org.apache.kafka.connect."
                  "data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"3\"}}",
                  err, sizeof err),
        "{\"type\":\"bytes\",\"scale\":3,\"precision\":64,\"connect.version\":1,"
        "\"connect.parameters\":{\"scale\":\"3\"},\"connect.name\":\"org.apache.kafka.connect."
        "data.Decimal\",\"logicalType\":\"decimal\"}");
    /* a bytes default: the ISO-8859-1 string of the bytes */
    CHECK_EQ_STR(
        translate("{\"type\":\"bytes\",\"optional\":false,\"default\":\"AP9/\"}", err, sizeof err),
        "{\"type\":\"bytes\",\"connect.default\":\"\\u0000\xc3\xbf\x7f\"}");
    /* unnamed structs, arrays, maps with string and other keys */
    const char *MIXED =
        "{\"type\":\"struct\",\"fields\":["
        "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},\"optional\":false,"
        "\"field\":\"a\"},"
        "{\"type\":\"map\",\"keys\":{\"type\":\"string\",\"optional\":false},\"values\":{\"type\":"
        "\"double\",\"optional\":false},\"optional\":false,\"field\":\"m\"},"
        "{\"type\":\"map\",\"keys\":{\"type\":\"int32\",\"optional\":false},\"values\":{\"type\":"
        "\"string\",\"optional\":true},\"optional\":false,\"field\":\"mi\"},"
        "{\"type\":\"float\",\"optional\":false,\"field\":\"f\"},"
        "{\"type\":\"boolean\",\"optional\":false,\"field\":\"b\"},"
        "{\"type\":\"int64\",\"optional\":true,\"default\":7,\"field\":\"l\"}],\"optional\":false}";
    CHECK_EQ_STR(
        translate(MIXED, err, sizeof err),
        "{\"type\":\"record\",\"name\":\"ConnectDefault\",\"namespace\":\"io.confluent.connect."
        "avro\","
        "\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"null\",\"int\"]}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
        "{\"name\":\"mi\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
        "\"MapEntry\",\"fields\":[{\"name\":\"key\",\"type\":\"int\"},{\"name\":\"value\",\"type\":"
        "[\"null\",\"string\"],\"default\":null}]}}},"
        "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"b\",\"type\":\"boolean\"},"
        "{\"name\":\"l\",\"type\":[{\"type\":\"long\",\"connect.default\":7},\"null\"],"
        "\"default\":7}]}");
    /* a record in no namespace inside one in a namespace */
    CHECK_EQ_STR(
        translate("{\"type\":\"struct\",\"name\":\"a.B\",\"optional\":false,\"fields\":["
                  "{\"type\":\"struct\",\"name\":\"C\",\"optional\":false,\"fields\":[],\"field\":"
                  "\"c\"}]}",
                  err, sizeof err),
        "{\"type\":\"record\",\"name\":\"B\",\"namespace\":\"a\",\"fields\":[{\"name\":\"c\","
        "\"type\":{\"type\":\"record\",\"name\":\"C\",\"namespace\":\"\",\"fields\":[],"
        "\"connect.name\":\"C\"}}],\"connect.name\":\"a.B\"}");
    /* names Avro refuses are an error naming them */
    CHECK_EQ_STR(
        translate(
            "{\"type\":\"struct\",\"name\":\"my-db.t.Value\",\"optional\":false,\"fields\":[]}",
            err, sizeof err),
        "ERROR");
    CHECK(strstr(err, "\"my-db.t.Value\"") != NULL);
    CHECK_EQ_STR(
        translate("{\"type\":\"struct\",\"name\":\"x.Value\",\"optional\":false,\"fields\":["
                  "{\"type\":\"int32\",\"optional\":false,\"field\":\"a b\"}]}",
                  err, sizeof err),
        "ERROR");
    CHECK(strstr(err, "\"a b\"") != NULL);
    /* one name, two different records */
    CHECK_EQ_STR(
        translate("{\"type\":\"struct\",\"name\":\"x.V\",\"optional\":false,\"fields\":["
                  "{\"type\":\"struct\",\"name\":\"x.W\",\"optional\":false,\"fields\":[],"
                  "\"field\":\"a\"},"
                  "{\"type\":\"struct\",\"name\":\"x.W\",\"optional\":false,\"fields\":[{\"type\":"
                  "\"int32\",\"optional\":false,\"field\":\"q\"}],\"field\":\"b\"}]}",
                  err, sizeof err),
        "ERROR");
    CHECK_EQ_STR(translate("{\"type\":\"uuid\"}", err, sizeof err), "ERROR");
    /* found by fuzz_avro: an empty name (no data to copy) is refused */
    CHECK_EQ_STR(translate("{\"type\":\"struct\",\"fields\":[],\"optional\":false,\"name\":\"\"}",
                           err, sizeof err),
                 "ERROR");

    /* payload encoding: unions both ways round, Decimal bytes, strings */
    CHECK_EQ_INT(
        encode(ENVELOPE,
               "{\"before\":null,\"after\":{\"id\":1,\"s\":-2,\"n\":\"MDk=\",\"t\":\"x\"},"
               "\"source\":{\"version\":\"3\",\"snapshot\":\"false\"},\"op\":\"c\",\"ts_ms\":5}",
               err, sizeof err),
        DP_OK);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x00"
                 "\x02"
                 "\x02"
                 "\x02\x03"
                 "\x02\x04\x30\x39"
                 "\x00\x02x"
                 "\x02"
                 "3"
                 "\x00\x0a"
                 "false"
                 "\x02"
                 "c"
                 "\x02\x0a",
                 25);
    /* null in a [T, "null"] union is branch 1; members in any order */
    CHECK_EQ_INT(
        encode(ENVELOPE,
               "{\"op\":\"d\",\"before\":{\"t\":null,\"n\":null,\"s\":null,\"id\":-1},"
               "\"after\":null,\"source\":{\"snapshot\":null,\"version\":\"\"},\"ts_ms\":null}",
               err, sizeof err),
        DP_OK);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x02"
                 "\x01"
                 "\x00"
                 "\x00"
                 "\x02"
                 "\x00"
                 "\x00"
                 "\x02"
                 "\x02"
                 "d"
                 "\x00",
                 11);
    /* escapes are decoded */
    CHECK_EQ_INT(encode("{\"type\":\"string\",\"optional\":false}", "\"a\\n\\u00e9\\ud83d\\ude00\"",
                        err, sizeof err),
                 DP_OK);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x10"
                 "a\n\xc3\xa9\xf0\x9f\x98\x80",
                 9);
    /* arrays (with a null item), maps, MapEntry arrays, float NaN, booleans */
    CHECK_EQ_INT(
        encode(MIXED,
               "{\"a\":[1,null],\"m\":{\"k\":1.5},\"mi\":[[3,\"x\"],[4,null]],\"f\":\"NaN\","
               "\"b\":true,\"l\":null}",
               err, sizeof err),
        DP_OK);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x04\x02\x02\x00\x00"
                 "\x02\x02k\x00\x00\x00\x00\x00\x00\xf8\x3f\x00"
                 "\x04\x06\x02\x02x\x08\x00\x00"
                 "\x00\x00\xc0\x7f"
                 "\x01"
                 "\x02",
                 31);
    CHECK_EQ_INT(encode(MIXED, "{\"a\":[],\"m\":{},\"mi\":[],\"f\":-0.5,\"b\":false,\"l\":-3}", err,
                        sizeof err),
                 DP_OK);
    CHECK_EQ_MEM(b.data, b.len,
                 "\x00\x00\x00"
                 "\x00\x00\x00\xbf"
                 "\x00"
                 "\x00\x05",
                 10);
    {
        double d;
        CHECK_EQ_INT(
            encode("{\"type\":\"double\",\"optional\":false}", "\"-Infinity\"", err, sizeof err),
            DP_OK);
        memcpy(&d, b.data, 8);
        CHECK(b.len == 8 && isinf(d) && d < 0);
        CHECK_EQ_INT(
            encode("{\"type\":\"double\",\"optional\":false}", "1.0E-300", err, sizeof err), DP_OK);
        memcpy(&d, b.data, 8);
        CHECK(d == 1.0e-300);
    }
    /* refused: null for a required field, wrong JSON types, out of range */
    CHECK_EQ_INT(
        encode(ENVELOPE,
               "{\"before\":null,\"after\":null,\"source\":{\"version\":null},\"op\":\"c\"}", err,
               sizeof err),
        DP_ERR_INVALID);
    CHECK(strstr(err, "\"version\"") != NULL);
    CHECK_EQ_INT(encode("{\"type\":\"int16\",\"optional\":false}", "40000", err, sizeof err),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(encode("{\"type\":\"int32\",\"optional\":false}", "1.5", err, sizeof err),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(encode("{\"type\":\"bytes\",\"optional\":false}", "\"**\"", err, sizeof err),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(encode("{\"type\":\"boolean\",\"optional\":false}", "\"true\"", err, sizeof err),
                 DP_ERR_INVALID);
    /* a bounded output refuses rather than truncating */
    {
        dp_json_t js = {0}, jp = {0};
        dp_avro_schema_t *s = NULL;
        const char *sc = "{\"type\":\"string\",\"optional\":false}", *pl = "\"0123456789\"";
        dp_json_parse(&js, sc, strlen(sc), 100, err, sizeof err);
        dp_json_parse(&jp, pl, strlen(pl), 100, err, sizeof err);
        CHECK_EQ_INT(dp_avro_schema_new(&js, 0, &s, err, sizeof err), DP_OK);
        dp_buf_t small;
        dp_buf_init(&small, 8);
        CHECK_EQ_INT(dp_avro_encode(s, &jp, 0, &small, err, sizeof err), DP_ERR_NOMEM);
        dp_buf_fini(&small);
        dp_avro_schema_destroy(s);
        dp_json_fini(&js);
        dp_json_fini(&jp);
    }

    /* the converter: wire format, subject, one registration per schema */
    {
        char subject[256] = "";
        dp_buf_t out;
        dp_buf_init(&out, 1 << 20);
        dp_avro_conv_t *cv = dp_avro_conv_new(0, 1 << 20, 2, fake_register, subject);
        char ev[4096];
        snprintf(ev, sizeof ev,
                 "{\"schema\":%s,\"payload\":{\"before\":null,\"after\":{\"id\":1,\"s\":-2,"
                 "\"n\":\"MDk=\",\"t\":\"x\"},\"source\":{\"version\":\"3\",\"snapshot\":\"false\"}"
                 ",\"op\":\"c\","
                 "\"ts_ms\":5}}",
                 ENVELOPE);
        calls = 0;
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", ev, strlen(ev), &out, err, sizeof err), DP_OK);
        CHECK_EQ_STR(subject, "cdc.t-value");
        CHECK_EQ_MEM(out.data, 5, "\x00\x00\x00\x03\xe9", 5); /* id 1001, big endian */
        CHECK_EQ_INT(out.len, 30);
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", ev, strlen(ev), &out, err, sizeof err), DP_OK);
        CHECK_EQ_INT(calls, 1);
        /* another topic: another subject */
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.u", ev, strlen(ev), &out, err, sizeof err), DP_OK);
        CHECK_EQ_INT(calls, 2);
        CHECK_EQ_STR(subject, "cdc.u-value");
        CHECK_EQ_MEM(out.data, 5, "\x00\x00\x00\x03\xea", 5);
        /* a changed schema (ALTER TABLE): registered again; the full cache
         * starts over and still answers */
        char ev2[4096];
        snprintf(ev2, sizeof ev2,
                 "{\"schema\":{\"type\":\"int32\",\"optional\":false},\"payload\":1}");
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", ev2, strlen(ev2), &out, err, sizeof err), DP_OK);
        CHECK_EQ_INT(calls, 3);
        CHECK_EQ_MEM(out.data, out.len, "\x00\x00\x00\x03\xeb\x02", 6);
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", ev, strlen(ev), &out, err, sizeof err), DP_OK);
        CHECK_EQ_INT(calls, 4);
        CHECK_EQ_INT(dp_avro_conv_registrations(cv), 4);
        /* keys use <topic>-key */
        dp_avro_conv_t *kc = dp_avro_conv_new(1, 1 << 20, 16, fake_register, subject);
        CHECK_EQ_INT(dp_avro_conv_run(kc, "cdc.t", ev2, strlen(ev2), &out, err, sizeof err), DP_OK);
        CHECK_EQ_STR(subject, "cdc.t-key");
        dp_avro_conv_destroy(kc);
        /* not the {schema, payload} form */
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", "{\"id\":1}", 8, &out, err, sizeof err),
                     DP_ERR_INVALID);
        dp_avro_conv_destroy(cv);
        /* the registry's failure is the converter's, nothing is encoded */
        cv = dp_avro_conv_new(0, 1 << 20, 16, failing_register, NULL);
        dp_buf_reset(&out);
        CHECK_EQ_INT(dp_avro_conv_run(cv, "cdc.t", ev, strlen(ev), &out, err, sizeof err),
                     DP_ERR_NET);
        CHECK(strstr(err, "cdc.t-value") != NULL);
        CHECK_EQ_INT(out.len, 0);
        dp_avro_conv_destroy(cv);
        dp_buf_fini(&out);
    }
    /* the way back: Avro -> the JsonConverter payload, as it came */
    {
        const char *cases[][2] = {
            {ENVELOPE,
             "{\"before\":null,\"after\":{\"id\":1,\"s\":-2,\"n\":\"MDk=\",\"t\":\"x\"},"
             "\"source\":{\"version\":\"3\",\"snapshot\":\"false\"},\"op\":\"c\",\"ts_ms\":5}"},
            {ENVELOPE,
             "{\"before\":{\"id\":-1,\"s\":null,\"n\":null,\"t\":null},\"after\":null,"
             "\"source\":{\"version\":\"\u00e9\\\"\",\"snapshot\":null},\"op\":\"d\",\"ts_ms\":"
             "null}"},
            {MIXED,
             "{\"a\":[1,null],\"m\":{\"k\":1.5,\"z\":-2.0E-7},\"mi\":[[3,\"x\"],[4,null]],\"f\":"
             "\"NaN\","
             "\"b\":true,\"l\":null}"},
            {MIXED, "{\"a\":[],\"m\":{},\"mi\":[],\"f\":3.4028235E38,\"b\":false,\"l\":-3}"},
            /* found by fuzz_avro: a record used optional, then referred to
             * as required: the reference is not a union */
            {"{\"type\":\"struct\",\"name\":\"x.E\",\"optional\":false,\"fields\":["
             "{\"type\":\"struct\",\"name\":\"x.R\",\"optional\":true,\"fields\":[{\"type\":"
             "\"int32\","
             "\"optional\":false,\"field\":\"q\"}],\"field\":\"a\"},"
             "{\"type\":\"struct\",\"name\":\"x.R\",\"optional\":false,\"fields\":[{\"type\":"
             "\"int32\","
             "\"optional\":false,\"field\":\"q\"}],\"field\":\"b\"}]}",
             "{\"a\":null,\"b\":{\"q\":1}}"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            CHECK_EQ_INT(encode(cases[i][0], cases[i][1], err, sizeof err), DP_OK);
            dp_buf_t wire, json;
            dp_buf_init(&wire, 1 << 20);
            dp_buf_init(&json, 1 << 20);
            dp_buf_append(&wire, b.data, b.len);
            const char *schema = translate(cases[i][0], err, sizeof err);
            dp_avro_reader_t *r = NULL;
            CHECK_EQ_INT(dp_avro_reader_new(schema, strlen(schema), &r, err, sizeof err), DP_OK);
            if (r)
                CHECK_EQ_INT(dp_avro_to_json(r, wire.data, wire.len, &json, err, sizeof err),
                             DP_OK);
            CHECK_EQ_STR(dp_buf_cstr(&json), cases[i][1]);
            /* one byte short, one byte more: refused */
            dp_buf_reset(&json);
            if (r)
                CHECK_EQ_INT(dp_avro_to_json(r, wire.data, wire.len - 1, &json, err, sizeof err),
                             DP_ERR_INVALID);
            dp_buf_append(&wire, "", 1);
            dp_buf_reset(&json);
            if (r)
                CHECK_EQ_INT(dp_avro_to_json(r, wire.data, wire.len, &json, err, sizeof err),
                             DP_ERR_INVALID);
            dp_avro_reader_destroy(r);
            dp_buf_fini(&wire);
            dp_buf_fini(&json);
        }
        /* floats as Java prints them */
        static const struct {
            double d;
            int is_float;
            const char *java;
        } fl[] = {{1e10, 0, "1.0E10"},
                  {1e7, 0, "1.0E7"},
                  {9999999.0, 0, "9999999.0"},
                  {0.001, 0, "0.001"},
                  {0.000999, 0, "9.99E-4"},
                  {-123.456, 0, "-123.456"},
                  {100, 0, "100.0"},
                  {-0.0, 0, "-0.0"},
                  {1.7976931348623157e308, 0, "1.7976931348623157E308"},
                  {4.9e-324, 0, "4.9E-324"},
                  {0.1, 1, "0.1"},
                  {3.4028235e38, 1, "3.4028235E38"},
                  {1.4e-45, 1, "1.4E-45"},
                  {12345678.9, 1, "1.2345679E7"},
                  {1.0 / 3, 1, "0.33333334"}};
        for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
            const char *sc = fl[i].is_float ? "\"float\"" : "\"double\"";
            dp_avro_reader_t *r = NULL;
            dp_buf_t wire, json;
            dp_buf_init(&wire, 64);
            dp_buf_init(&json, 64);
            uint8_t raw[8];
            if (fl[i].is_float) {
                float f = (float)fl[i].d;
                memcpy(raw, &f, 4);
            } else {
                memcpy(raw, &fl[i].d, 8);
            }
            dp_buf_append(&wire, raw, fl[i].is_float ? 4 : 8);
            CHECK_EQ_INT(dp_avro_reader_new(sc, strlen(sc), &r, err, sizeof err), DP_OK);
            dp_avro_to_json(r, wire.data, wire.len, &json, err, sizeof err);
            CHECK_EQ_STR(dp_buf_cstr(&json), fl[i].java);
            dp_avro_reader_destroy(r);
            dp_buf_fini(&wire);
            dp_buf_fini(&json);
        }
        /* refused schemas */
        const char *bad[] = {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}",
                             "[\"null\",\"int\",\"string\"]", "\"Nope\"", "{\"type\":\"record\"}",
                             "[1"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            dp_avro_reader_t *r = NULL;
            CHECK(dp_avro_reader_new(bad[i], strlen(bad[i]), &r, err, sizeof err) != DP_OK &&
                  r == NULL);
        }
    }
    dp_avro_conv_destroy(NULL);
    dp_avro_schema_destroy(NULL);
    dp_buf_fini(&b);
    return tl_finish("avro");
}
