/* debezium.h - Debezium-compatible change events (JsonConverter output).
 *
 * A dbz_table_t is built once per pgoutput Relation message (plus catalog
 * facts pgoutput does not carry: NOT NULL and primary key). It holds the
 * per-column converters and the schema JSON of key and envelope, computed
 * once, so encoding an event is one pass over the tuple with no
 * allocation once the output buffer has grown. */
#ifndef DP_EVENT_DEBEZIUM_H
#define DP_EVENT_DEBEZIUM_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "pg/pgoutput.h"

/* The Debezium release whose event format we reproduce. */
/* The Debezium release whose event format we reproduce: source.version.
 * scripts/versions DEBEZIUM_VERSION names the same release, the one the
 * parity test (tests/integration/test_0003_debezium_parity.py) runs. */
#define DBZ_COMPAT_VERSION "3.0.8.Final"

typedef enum {
    DBZ_CONV_STRING, /* text as JSON string */
    DBZ_CONV_BOOL,
    DBZ_CONV_INT16,
    DBZ_CONV_INT32,
    DBZ_CONV_INT64,
    DBZ_CONV_FLOAT32,
    DBZ_CONV_FLOAT64,
    DBZ_CONV_DECIMAL, /* numeric(p,s) precise: base64 unscaled two's complement */
    DBZ_CONV_VSDECIMAL, /* numeric without scale: VariableScaleDecimal struct */
    DBZ_CONV_BYTES, /* bytea hex text -> base64 */
    DBZ_CONV_DATE, /* days since epoch */
    DBZ_CONV_TIME_MS,
    DBZ_CONV_TIME_US,
    DBZ_CONV_TS_MS,
    DBZ_CONV_TS_US,
    DBZ_CONV_TSTZ, /* ISO-8601 UTC string, fraction as wide as the precision */
    DBZ_CONV_TIMETZ, /* ZonedTime: the time in UTC, "HH:MM:SS[.f]Z" */
    DBZ_CONV_INTERVAL, /* MicroDuration: µs, months as 365.25/12 days */
    DBZ_CONV_MONEY, /* Decimal, scale 2, from PostgreSQL's "$1,234.56" */
    DBZ_CONV_ENUM, /* string, io.debezium.data.Enum with its labels */
    DBZ_CONV_ARRAY, /* one-dimensional array of elem_conv */
    /* kinds of the non-default handling modes (dbz_options_t) */
    DBZ_CONV_DECIMAL_STRING, /* numeric/money, decimal.handling.mode=string: plain text,
                              * NaN as "NAN", infinities "POSITIVE_INFINITY"/"NEGATIVE_INFINITY" */
    DBZ_CONV_DECIMAL_DOUBLE, /* numeric/money, decimal.handling.mode=double: a double */
    DBZ_CONV_BYTES_BASE64, /* bytea, binary.handling.mode=base64: string */
    DBZ_CONV_BYTES_BASE64URL, /* bytea, binary.handling.mode=base64-url-safe: string */
    DBZ_CONV_BYTES_HEX, /* bytea, binary.handling.mode=hex: lowercase string */
    DBZ_CONV_DATE_CONNECT, /* time.precision.mode=connect: Connect Date, days since epoch */
    DBZ_CONV_TIME_CONNECT, /* time.precision.mode=connect: Connect Time, ms of day */
    DBZ_CONV_TS_CONNECT /* time.precision.mode=connect: Connect Timestamp, ms since epoch */
} dbz_conv_t;

/* decimal.handling.mode, time.precision.mode, binary.handling.mode: the
 * values in the order of the configuration's enum lists */
typedef enum { DBZ_DECIMAL_PRECISE, DBZ_DECIMAL_DOUBLE, DBZ_DECIMAL_STRING } dbz_decimal_mode_t;
typedef enum {
    DBZ_TIME_ADAPTIVE,
    DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS,
    DBZ_TIME_CONNECT
} dbz_time_mode_t;
typedef enum {
    DBZ_BINARY_BYTES,
    DBZ_BINARY_BASE64,
    DBZ_BINARY_BASE64_URL_SAFE,
    DBZ_BINARY_HEX
} dbz_binary_mode_t;

typedef struct dbz_column {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    int in_key; /* part of the primary key */
    int optional; /* nullable */
    int scale; /* numeric scale */
    dbz_conv_t conv;
    uint32_t elem_oid; /* arrays: the element type */
    dbz_conv_t elem_conv; /* arrays: the element converter */
    char *enum_labels; /* enums: "a,b,c" in sort order, else NULL */
    char *default_json; /* the schema's "default" as JSON, else NULL; JsonConverter
                            * also writes it in place of a null value */
    int omit; /* a type Debezium leaves out of its events */
    int elem_unfit; /* arrays: Debezium's converted elements do not fit its own
                            * item schema, so a value with a non-null element is null */
} dbz_column_t;

typedef struct dbz_options {
    const char *topic_prefix; /* topic.prefix */
    const char *dbname; /* database.dbname */
    int schemas_enable; /* value.converter.schemas.enable */
    int key_schemas_enable; /* key.converter.schemas.enable */
    /* zero (the defaults) is Debezium's default of each */
    dbz_decimal_mode_t decimal_mode; /* decimal.handling.mode */
    dbz_time_mode_t time_mode; /* time.precision.mode */
    dbz_binary_mode_t binary_mode; /* binary.handling.mode */
} dbz_options_t;

typedef struct dbz_table {
    uint32_t relid;
    char *schema, *table;
    char replident;
    uint16_t ncols;
    dbz_column_t *cols;
    int nkeys;
    dp_buf_t key_schema; /* schema JSON of the key struct */
    dp_buf_t value_schema; /* schema JSON of the envelope */
} dbz_table_t;

/* catalog facts for one column, looked up by the caller */
typedef struct dbz_catalog_col {
    const char *name;
    int not_null;
    int in_pk;
    /* the rest may be zero/NULL */
    uint32_t base_oid; /* domains: the base type (Debezium maps the base type) */
    int32_t base_typmod; /* domains: the base type's typmod */
    const char *type_name; /* pg_type.typname of the column's type */
    const char *enum_labels; /* enums and arrays of enums: labels in sort order, comma-separated */
    uint32_t elem_oid; /* arrays: the element type (pg_type.typelem) */
    const char *default_expr; /* pg_get_expr of the column default */
} dbz_catalog_col_t;

/* dbz_table_init: build t from a Relation message. cat (may be NULL, n
 * entries) supplies NOT NULL and primary key by column name; without it
 * the replica identity flags stand in for the key. */
dp_err_t dbz_table_init(dbz_table_t *t, const pgo_relation_t *rel, const dbz_catalog_col_t *cat,
                        size_t ncat, const dbz_options_t *opt, char *errstr, size_t errstr_size);
void dbz_table_fini(dbz_table_t *t);

/* the envelope's transaction block (provide.transaction.metadata); the
 * id is "<xid>:<lsn>" with the event's own LSN, as Debezium writes it */
typedef struct dbz_txblock {
    uint32_t xid;
    uint64_t lsn;
    uint64_t total_order, data_collection_order;
} dbz_txblock_t;

/* dbz_txid: a transaction record's or block's id, "<xid>:<LSN>", into out
 * (NUL-terminated, at most DBZ_TXID_MAX bytes with the NUL); its length */
#define DBZ_TXID_MAX 42
size_t dbz_txid(uint32_t xid, uint64_t lsn, char *out);

/* source block facts of one event */
typedef struct dbz_source {
    int64_t commit_ts_us; /* PostgreSQL commit time, µs since Unix epoch */
    uint32_t xid;
    uint64_t lsn; /* LSN of the change */
    uint64_t last_commit_lsn; /* end LSN of the previous commit (sequence[0]); 0: null */
    const char *snapshot; /* "false", "true", "last" */
    const dbz_txblock_t *txn; /* the transaction block; NULL: "transaction":null */
} dbz_source_t;

/* One change event, typed: what every writer (JsonConverter's here,
 * AvroConverter's in avro_event.h) and every transform reads. Column
 * values stay pgoutput text until a writer converts them, each once. */
typedef struct dbz_event {
    const dbz_table_t *table;
    char op; /* 'c', 'u', 'd', 'r', 't' */
    const pgo_tuple_t *before, *after; /* NULL: none */
    dbz_source_t source;
    int64_t now_us; /* processing time: ts_ms, ts_us, ts_ns */
} dbz_event_t;

/* dbz_key_changed: whether an update changed the table's key columns
 * (Debezium then emits a delete of the old key and a create of the new) */
int dbz_key_changed(const dbz_table_t *t, const pgo_tuple_t *old, const pgo_tuple_t *neu);

/* dbz_event_key_row: the row the key is taken from (after, else before);
 * NULL for a truncate */
const pgo_tuple_t *dbz_event_key_row(const dbz_event_t *ev);

/* dbz_encode_key: key JSON of the event (payload only when key schemas
 * are off); sets *has_key to 0 (and writes nothing) for tables without a
 * key and for events without a row. */
dp_err_t dbz_encode_key(const dbz_event_t *ev, const dbz_options_t *opt, dp_buf_t *out,
                        int *has_key);
/* dbz_encode_value: the envelope JSON of the event. */
dp_err_t dbz_encode_value(const dbz_event_t *ev, const dbz_options_t *opt, dp_buf_t *out);

/* One typed value of the envelope's own fields, its source block or its
 * transaction block, or one column of a row image: what the writers and
 * ExtractNewRecordState's add.fields and add.headers read. */
typedef enum { DBZ_VAL_NULL, DBZ_VAL_STR, DBZ_VAL_INT, DBZ_VAL_COL } dbz_val_kind_t;
typedef struct dbz_val {
    dbz_val_kind_t kind;
    const char *s; /* DBZ_VAL_STR: s[0..n), not escaped */
    size_t n;
    int64_t i; /* DBZ_VAL_INT */
    const dbz_column_t *col; /* DBZ_VAL_COL: the column and its value in */
    const pgo_value_t *cv; /* the row, written as dbz_put_value writes it */
    char buf[64]; /* where s points for values made up here: a dbz_val_t is
                      * filled in place and not copied */
} dbz_val_t;

/* dbz_event_field: field of strct ("source", "transaction") or, strct
 * NULL, of the envelope itself (op, ts_ms, ts_us, ts_ns). Returns 0, or -1
 * when the struct has no such scalar field (before, after and the
 * structs themselves are not scalars). */
int dbz_event_field(const dbz_event_t *ev, const dbz_options_t *opt, const char *strct,
                    const char *field, dbz_val_t *v);

/* Debezium's heartbeat record: key {serverName: topic.prefix}, value
 * {ts_ms}, under the Connect schemas below (JsonConverter writes them
 * when schemas are enabled, AvroConverter registers their translation). */
#define DBZ_HEARTBEAT_KEY_SCHEMA                                                                   \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":"          \
    "\"serverName\"}],\"optional\":false,\"name\":\"io.debezium.connector.common.ServerNameKey\"}"
#define DBZ_HEARTBEAT_VALUE_SCHEMA                                                                 \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"}" \
    "],"                                                                                           \
    "\"optional\":false,\"name\":\"io.debezium.connector.common.Heartbeat\"}"

/* dbz_encode_heartbeat: the JsonConverter form of the heartbeat at ts_ms
 * into key and value (replacing them). */
dp_err_t dbz_encode_heartbeat(const dbz_options_t *opt, int64_t ts_ms, dp_buf_t *key,
                              dp_buf_t *value);

/* dbz_put_value: one column value as its Connect JSON token (a null is the
 * column's default or fallback, as JsonConverter writes it). */
void dbz_put_value(dp_buf_t *b, const dbz_column_t *c, const pgo_value_t *v);
/* dbz_put_row: the row's columns (the key columns only, keys_only) as a
 * Connect JSON struct payload */
void dbz_put_row(dp_buf_t *b, const dbz_table_t *t, const pgo_tuple_t *row, int keys_only);

/* Conversions, exposed for tests. */
/* dbz_decimal_unscaled: text numeric -> big-endian two's complement of the
 * value scaled by 10^scale (Java BigInteger.toByteArray form). */
dp_err_t dbz_decimal_unscaled(const char *s, size_t n, int scale, uint8_t *out, size_t cap,
                              size_t *outlen);
/* dbz_parse_timestamp: "YYYY-MM-DD HH:MM:SS[.f]" (optional "+HH[:MM]"
 * offset) -> µs since epoch, UTC. */
dp_err_t dbz_parse_timestamp(const char *s, size_t n, int64_t *us);
int64_t dbz_days_from_civil(int64_t y, unsigned m, unsigned d);
/* dbz_interval_micros: PostgreSQL's interval text (IntervalStyle postgres)
 * -> MicroDuration µs exactly as Debezium computes it (pgjdbc's PGInterval
 * fields, months as 365.25/12 days, in doubles, truncated). */
dp_err_t dbz_interval_micros(const char *s, size_t n, int64_t *us);

#endif
