/* test_unwrap - ExtractNewRecordState on JsonConverter envelopes: every
 * operation (c, u, r, d, t, tombstone) under every delete mode, the
 * deprecated keys, add.fields/add.headers with prefixes, renames and
 * missing fields, schemas on and off, and configuration errors naming
 * their key. Expected bytes follow Debezium 3.0.8 with Kafka 3.9's
 * SchemaUtil/InsertField/JsonConverter (the integration test
 * test_0016_unwrap compares with real Debezium). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/unwrap.h"
#include "testlib.h"

/* an envelope as Debezium writes it for "p.public.t" (id int4 key, v text) */
#define VALUE_FIELDS                                                                               \
    "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"                                   \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"v\"}]"
#define VALUE_SCHEMA(side)                                                                         \
    "{\"type\":\"struct\",\"fields\":" VALUE_FIELDS                                                \
    ",\"optional\":true,\"name\":\"p.public.t.Value\",\"field\":\"" side "\"}"
#define SOURCE_SCHEMA                                                                              \
    "{\"type\":\"struct\",\"fields\":["                                                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"                              \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"                                 \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"                                 \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"     \
    "\"parameters\":{\"allowed\":\"true,last,false\"},\"default\":\"false\",\"field\":"            \
    "\"snapshot\"},"                                                                               \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"                                   \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"                                \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"}],"                                   \
    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":"           \
    "\"source\"}"
#define TX_SCHEMA                                                                                  \
    "{\"type\":\"struct\",\"fields\":["                                                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"                                   \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"                           \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"                \
    "\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}"
#define ENV_SCHEMA                                                                                 \
    "{\"type\":\"struct\",\"fields\":[" VALUE_SCHEMA("before") "," VALUE_SCHEMA(                   \
        "after") "," SOURCE_SCHEMA "," TX_SCHEMA ","                                               \
                 "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"                      \
                 "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}],"                    \
                 "\"optional\":false,\"name\":\"p.public.t.Envelope\",\"version\":2}"
#define SOURCE(tab)                                                                                \
    "{\"version\":\"3.0.8.Final\",\"connector\":\"postgresql\",\"name\":\"p\","                    \
    "\"ts_ms\":1700000000000,\"snapshot\":\"false\",\"db\":\"db\",\"table\":\"" tab                \
    "\",\"lsn\":42}"
#define PAYLOAD(before, after, op)                                                                 \
    "{\"before\":" before ",\"after\":" after                                                      \
    ",\"source\":" SOURCE("t") ",\"transaction\":null,\"op\":\"" op "\",\"ts_ms\":1700000000123}"
#define ENV(before, after, op)                                                                     \
    "{\"schema\":" ENV_SCHEMA ",\"payload\":" PAYLOAD(before, after, op) "}"

#define ROW1 "{\"id\":1,\"v\":\"a\"}"
#define ROW1B "{\"id\":1,\"v\":\"b\"}"
/* the unwrapped schema: the Value struct, rebuilt (not optional) */
#define ROW_SCHEMA(extra)                                                                          \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,"                     \
    "\"field\":\"id\"},{\"type\":\"string\",\"optional\":true,\"field\":\"v\"}" extra "],"         \
    "\"optional\":false,\"name\":\"p.public.t.Value\"}"
#define DELETED_SCHEMA ",{\"type\":\"string\",\"optional\":true,\"field\":\"__deleted\"}"

/* make: a configured transform "unwrap" from "k=v" pairs (NULL-ended) */
static dp_err_t make(dbz_unwrap_t *u, int schemas, char *err, size_t en, ...) {
    static char *keys[32], *vals[32];
    cfg_kv_t kv = {keys, vals, 0};
    va_list ap;
    va_start(ap, en);
    for (const char *s; (s = va_arg(ap, const char *));) {
        const char *eq = strchr(s, '=');
        char k[256];
        snprintf(k, sizeof k, "unwrap.%.*s", (int)(eq - s), s);
        keys[kv.n] = strdup(k);
        vals[kv.n] = strdup(eq + 1);
        kv.n++;
    }
    va_end(ap);
    keys[kv.n] = strdup("unwrap.type");
    vals[kv.n] = strdup(DBZ_UNWRAP_TYPE);
    kv.n++;
    dp_err_t e = dbz_unwrap_init(u, "unwrap", &kv, schemas, 1 << 20, err, en);
    for (size_t i = 0; i < kv.n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    return e;
}

static dp_buf_t out;
static dbz_unwrap_result_t res;

/* run: apply to s (NULL: tombstone); returns the output, "DROP" or "NULL" */
static const char *run(dbz_unwrap_t *u, const char *s) {
    char err[256] = "";
    dp_buf_reset(&out);
    if (dbz_unwrap_apply(u, s, s ? strlen(s) : 0, &out, &res, err, sizeof err)) {
        static char e[300];
        snprintf(e, sizeof e, "ERR %s", err);
        return e;
    }
    if (res == DBZ_UNWRAP_DROP) return "DROP";
    if (res == DBZ_UNWRAP_NULL) return "NULL";
    return dp_buf_cstr(&out);
}

static const char *hdr(dbz_unwrap_t *u, size_t i) {
    static char b[512];
    const char *name;
    const void *v;
    size_t l;
    if (i >= dbz_unwrap_nheaders(u)) return "(none)";
    dbz_unwrap_header(u, i, &name, &v, &l);
    if (v)
        snprintf(b, sizeof b, "%s=%.*s", name, (int)l, (const char *)v);
    else
        snprintf(b, sizeof b, "%s=(null)", name);
    return b;
}

static const char *cfg_error(const char *k1, const char *k2) {
    static char err[512];
    dbz_unwrap_t u;
    err[0] = 0;
    if (make(&u, 1, err, sizeof err, k1, k2, (const char *)NULL) == DP_OK) {
        dbz_unwrap_fini(&u);
        return "OK";
    }
    return err;
}

int main(void) {
    dp_buf_init(&out, 1 << 20);
    dbz_unwrap_t u;
    char err[256];

    /* the defaults (deprecated path): deletes and tombstones dropped */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, (const char *)NULL), DP_OK);
    CHECK(u.legacy);
    CHECK_EQ_STR(run(&u, ENV("null", ROW1, "c")),
                 "{\"schema\":" ROW_SCHEMA("") ",\"payload\":" ROW1 "}");
    CHECK_EQ_INT(res, DBZ_UNWRAP_VALUE);
    CHECK_EQ_STR(run(&u, ENV(ROW1, ROW1B, "u")),
                 "{\"schema\":" ROW_SCHEMA("") ",\"payload\":" ROW1B "}");
    CHECK_EQ_STR(run(&u, ENV("null", ROW1, "r")),
                 "{\"schema\":" ROW_SCHEMA("") ",\"payload\":" ROW1 "}");
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")), "DROP");
    CHECK_EQ_STR(run(&u, ENV("null", "null", "t")), "DROP");
    CHECK_EQ_STR(run(&u, NULL), "DROP");
    /* not an envelope (e.g. a heartbeat): unchanged */
    {
        const char *hb = "{\"schema\":{\"type\":\"struct\",\"fields\":[],\"optional\":false,"
                         "\"name\":\"io.debezium.connector.common.Heartbeat\"},\"payload\":{}}";
        CHECK_EQ_STR(run(&u, hb), hb);
    }
    dbz_unwrap_fini(&u);

    /* the seed: drop.tombstones=false keeps tombstones, deletes still dropped */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "drop.tombstones=false", (const char *)NULL), DP_OK);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")), "DROP");
    CHECK_EQ_STR(run(&u, NULL), "NULL");
    CHECK_EQ_STR(run(&u, ENV("null", "null", "t")), "DROP");
    dbz_unwrap_fini(&u);

    /* delete.handling.mode=none: the delete's value is null with the after schema */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "delete.handling.mode=none", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")),
                 "{\"schema\":{\"type\":\"struct\",\"fields\":" VALUE_FIELDS ",\"optional\":true,"
                 "\"name\":\"p.public.t.Value\"},\"payload\":null}");
    CHECK_EQ_STR(run(&u, NULL), "DROP");
    dbz_unwrap_fini(&u);

    /* delete.handling.mode=rewrite (case and blanks as Debezium's parse) */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "delete.handling.mode= ReWrite ", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(
        run(&u, ENV("null", ROW1, "c")),
        "{\"schema\":" ROW_SCHEMA(
            DELETED_SCHEMA) ",\"payload\":{\"id\":1,\"v\":\"a\",\"__deleted\":\"false\"}}");
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")),
                 "{\"schema\":" ROW_SCHEMA(
                     DELETED_SCHEMA) ",\"payload\":{\"id\":1,\"v\":\"a\",\"__deleted\":\"true\"}}");
    dbz_unwrap_fini(&u);

    /* delete.tombstone.handling.mode wins over the deprecated keys */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "delete.tombstone.handling.mode=drop",
                      "drop.tombstones=false", (const char *)NULL),
                 DP_OK);
    CHECK(!u.legacy);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")), "DROP");
    CHECK_EQ_STR(run(&u, NULL), "DROP");
    dbz_unwrap_fini(&u);
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "delete.tombstone.handling.mode=tombstone",
                      (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")),
                 "{\"schema\":{\"type\":\"struct\",\"fields\":" VALUE_FIELDS ",\"optional\":true,"
                 "\"name\":\"p.public.t.Value\"},\"payload\":null}");
    CHECK_EQ_STR(run(&u, NULL), "DROP");
    CHECK_EQ_STR(run(&u, ENV("null", ROW1, "c")),
                 "{\"schema\":" ROW_SCHEMA("") ",\"payload\":" ROW1 "}");
    dbz_unwrap_fini(&u);
    CHECK_EQ_INT(
        make(&u, 1, err, sizeof err, "delete.tombstone.handling.mode=rewrite", (const char *)NULL),
        DP_OK);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")),
                 "{\"schema\":" ROW_SCHEMA(
                     DELETED_SCHEMA) ",\"payload\":{\"id\":1,\"v\":\"a\",\"__deleted\":\"true\"}}");
    CHECK_EQ_STR(
        run(&u, ENV(ROW1, ROW1B, "u")),
        "{\"schema\":" ROW_SCHEMA(
            DELETED_SCHEMA) ",\"payload\":{\"id\":1,\"v\":\"b\",\"__deleted\":\"false\"}}");
    CHECK_EQ_STR(run(&u, NULL), "DROP");
    CHECK_EQ_STR(run(&u, ENV("null", "null", "t")), "DROP");
    dbz_unwrap_fini(&u);
    CHECK_EQ_INT(make(&u, 1, err, sizeof err,
                      "delete.tombstone.handling.mode=rewrite-with-tombstone", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, ENV(ROW1, "null", "d")),
                 "{\"schema\":" ROW_SCHEMA(
                     DELETED_SCHEMA) ",\"payload\":{\"id\":1,\"v\":\"a\",\"__deleted\":\"true\"}}");
    CHECK_EQ_STR(run(&u, NULL), "NULL");
    dbz_unwrap_fini(&u);

    /* add.fields: envelope, source and transaction fields, a rename, a
     * qualified name, a field the event does not have (left out); the
     * copied schema is optional and loses its default */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "delete.tombstone.handling.mode=rewrite",
                      "add.fields=op, table,lsn,source.ts_ms,ts_ms:when,snapshot,id,nosuch",
                      (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(
        run(&u, ENV(ROW1, "null", "d")),
        "{\"schema\":" ROW_SCHEMA(
            DELETED_SCHEMA
            ",{\"type\":\"string\",\"optional\":true,\"field\":\"__op\"}"
            ",{\"type\":\"string\",\"optional\":true,\"field\":\"__table\"}"
            ",{\"type\":\"int64\",\"optional\":true,\"field\":\"__lsn\"}"
            ",{\"type\":\"int64\",\"optional\":true,\"field\":\"__source_ts_ms\"}"
            ",{\"type\":\"int64\",\"optional\":true,\"field\":\"__when\"}"
            ",{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\","
            "\"version\":1,"
            "\"parameters\":{\"allowed\":\"true,last,false\"},\"field\":\"__snapshot\"}"
            ",{\"type\":\"string\",\"optional\":true,\"field\":\"__id\"}") ",\"payload\":{\"id\":1,"
                                                                           "\"v\":\"a\",\"__"
                                                                           "deleted\":\"true\",\"__"
                                                                           "op\":\"d\",\"__table\":"
                                                                           "\"t\","
                                                                           "\"__lsn\":42,\"__"
                                                                           "source_ts_ms\":"
                                                                           "1700000000000,\"__"
                                                                           "when\":1700000000123,"
                                                                           "\"__snapshot\":"
                                                                           "\"false\",\"__id\":"
                                                                           "null}}");
    dbz_unwrap_fini(&u);

    /* add.fields.prefix, and add.fields alone also rebuilds the schema */
    CHECK_EQ_INT(
        make(&u, 1, err, sizeof err, "add.fields=op", "add.fields.prefix=cdc_", (const char *)NULL),
        DP_OK);
    CHECK_EQ_STR(run(&u, ENV("null", ROW1, "c")),
                 "{\"schema\":" ROW_SCHEMA(",{\"type\":\"string\",\"optional\":true,\"field\":"
                                           "\"cdc_op\"}") ",\"payload\":{\"id\":1,\"v\":\"a\","
                                                          "\"cdc_op\":\"c\"}}");
    dbz_unwrap_fini(&u);

    /* schemas off: the bare row; a null delete value is JSON null */
    CHECK_EQ_INT(make(&u, 0, err, sizeof err, "delete.tombstone.handling.mode=tombstone",
                      "add.fields=op,id", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, PAYLOAD("null", ROW1, "c")),
                 "{\"id\":1,\"v\":\"a\",\"__op\":\"c\",\"__id\":null}");
    CHECK_EQ_STR(run(&u, PAYLOAD(ROW1, "null", "d")), "null");
    CHECK_EQ_STR(run(&u, PAYLOAD("null", "null", "t")), "DROP");
    dbz_unwrap_fini(&u);
    /* before.v / after.v: fields of the row structs, null when the struct is */
    CHECK_EQ_INT(make(&u, 0, err, sizeof err, "add.fields=before.v,after.v", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, PAYLOAD("null", ROW1, "c")),
                 "{\"id\":1,\"v\":\"a\",\"__before_v\":null,\"__after_v\":\"a\"}");
    CHECK_EQ_STR(run(&u, PAYLOAD(ROW1, ROW1B, "u")),
                 "{\"id\":1,\"v\":\"b\",\"__before_v\":\"a\",\"__after_v\":\"b\"}");
    dbz_unwrap_fini(&u);
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "add.fields=before.v", (const char *)NULL), DP_OK);
    CHECK_EQ_STR(run(&u, ENV("null", ROW1, "c")),
                 "{\"schema\":" ROW_SCHEMA(",{\"type\":\"string\",\"optional\":true,\"field\":\"__"
                                           "before_v\"}") ",\"payload\":{\"id\":1,\"v\":\"a\",\"__"
                                                          "before_v\":null}}");
    dbz_unwrap_fini(&u);
    CHECK_EQ_INT(make(&u, 0, err, sizeof err, "delete.handling.mode=rewrite", (const char *)NULL),
                 DP_OK);
    CHECK_EQ_STR(run(&u, PAYLOAD(ROW1, "null", "d")),
                 "{\"id\":1,\"v\":\"a\",\"__deleted\":\"true\"}");
    dbz_unwrap_fini(&u);

    /* add.headers: strings raw, numbers as text, null values, a missing
     * field left out; a tombstone gets only op=d */
    CHECK_EQ_INT(make(&u, 1, err, sizeof err, "drop.tombstones=false",
                      "add.headers=op,source.ts_ms,lsn:pos,id,nosuch", "add.headers.prefix=h.",
                      (const char *)NULL),
                 DP_OK);
    run(&u, ENV("null", ROW1, "c"));
    CHECK_EQ_INT(dbz_unwrap_nheaders(&u), 4);
    CHECK_EQ_STR(hdr(&u, 0), "h.op=c");
    CHECK_EQ_STR(hdr(&u, 1), "h.source_ts_ms=1700000000000");
    CHECK_EQ_STR(hdr(&u, 2), "h.pos=42");
    CHECK_EQ_STR(hdr(&u, 3), "h.id=(null)");
    CHECK_EQ_STR(run(&u, NULL), "NULL");
    CHECK_EQ_INT(dbz_unwrap_nheaders(&u), 1);
    CHECK_EQ_STR(hdr(&u, 0), "h.op=d");
    dbz_unwrap_fini(&u);

    /* an empty row struct (a table without columns) */
    CHECK_EQ_INT(make(&u, 0, err, sizeof err, "add.fields=op", (const char *)NULL), DP_OK);
    CHECK_EQ_STR(run(&u, "{\"before\":null,\"after\":{},\"source\":" SOURCE("t") ",\"op\":\"c\"}"),
                 "{\"__op\":\"c\"}");
    dbz_unwrap_fini(&u);

    /* a big event (more parser nodes than are kept between records), then
     * a small one again */
    {
        CHECK_EQ_INT(make(&u, 0, err, sizeof err, (const char *)NULL), DP_OK);
        dp_buf_t big;
        dp_buf_init(&big, 1 << 22);
        dp_buf_puts(&big, "{\"before\":null,\"after\":{\"id\":1,\"a\":[0");
        for (int i = 1; i < 200000; i++) dp_buf_puts(&big, ",1");
        dp_buf_puts(&big, "]},\"source\":" SOURCE("t") ",\"op\":\"c\"}");
        const char *r = run(&u, dp_buf_cstr(&big));
        CHECK(strncmp(r, "{\"id\":1,\"a\":[0,1,1", 16) == 0);
        CHECK_EQ_INT(out.len, strlen("{\"id\":1,\"a\":[0]}") + 2 * 199999);
        CHECK_EQ_INT(u.json.cap, 0); /* released */
        CHECK_EQ_STR(run(&u, PAYLOAD("null", ROW1, "c")), ROW1);
        dp_buf_fini(&big);
        dbz_unwrap_fini(&u);
    }

    /* configuration errors name their key */
    CHECK(strstr(cfg_error("drop.tombstone=false", NULL), "\"transforms.unwrap.drop.tombstone\""));
    CHECK(
        strstr(cfg_error("drop.tombstones=maybe", NULL), "\"transforms.unwrap.drop.tombstones\""));
    CHECK(strstr(cfg_error("delete.handling.mode=keep", NULL),
                 "\"transforms.unwrap.delete.handling.mode\""));
    CHECK(strstr(cfg_error("delete.tombstone.handling.mode=delete-to-tombstone", NULL),
                 "\"transforms.unwrap.delete.tombstone.handling.mode\""));
    CHECK(strstr(cfg_error("route.by.field=v", NULL), "\"transforms.unwrap.route.by.field\""));
    CHECK(strstr(cfg_error("add.fields=a:b:c", NULL), "\"transforms.unwrap.add.fields\""));
    CHECK(strstr(cfg_error("predicate=x", NULL), "\"transforms.unwrap.predicate\""));
    CHECK(strstr(cfg_error("replace.null.with.default=1", NULL),
                 "\"transforms.unwrap.replace.null.with.default\""));
    CHECK_EQ_STR(cfg_error("delete.tombstone.handling.mode=", "drop.fields.from.key=TRUE"), "OK");
    CHECK_EQ_STR(cfg_error("route.by.field=", "add.headers="), "OK");
    CHECK_EQ_STR(cfg_error("add.fields=op:OP:", "add.headers=source.lsn.,,"),
                 "OK"); /* Java's split */
    CHECK(strstr(cfg_error("add.fields=::", NULL), "\"transforms.unwrap.add.fields\""));

    /* a struct no PostgreSQL event has: refused at once (Debezium fails at
     * the first event) */
    CHECK(strstr(cfg_error("add.fields=nope.x", NULL), "\"transforms.unwrap.add.fields\""));
    CHECK(strstr(cfg_error("add.headers=updateDescription", NULL),
                 "\"transforms.unwrap.add.headers\""));

    dp_buf_fini(&out);
    return tl_finish("unwrap");
}
