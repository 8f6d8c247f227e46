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
#define DBZ_COMPAT_VERSION "3.0.8.Final"

typedef enum {
    DBZ_CONV_STRING,   /* text as JSON string */
    DBZ_CONV_BOOL,
    DBZ_CONV_INT16, DBZ_CONV_INT32, DBZ_CONV_INT64,
    DBZ_CONV_FLOAT32, DBZ_CONV_FLOAT64,
    DBZ_CONV_DECIMAL,  /* numeric(p,s) precise: base64 unscaled two's complement */
    DBZ_CONV_VSDECIMAL,/* numeric without scale: VariableScaleDecimal struct */
    DBZ_CONV_BYTES,    /* bytea hex text -> base64 */
    DBZ_CONV_DATE,     /* days since epoch */
    DBZ_CONV_TIME_MS, DBZ_CONV_TIME_US,
    DBZ_CONV_TS_MS, DBZ_CONV_TS_US,
    DBZ_CONV_TSTZ      /* ISO-8601 UTC string */
} dbz_conv_t;

typedef struct dbz_column {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    int in_key;    /* part of the primary key */
    int optional;  /* nullable */
    int scale;     /* numeric scale */
    dbz_conv_t conv;
} dbz_column_t;

typedef struct dbz_options {
    const char *topic_prefix;    /* topic.prefix */
    const char *dbname;          /* database.dbname */
    int schemas_enable;          /* value.converter.schemas.enable */
    int key_schemas_enable;      /* key.converter.schemas.enable */
} dbz_options_t;

typedef struct dbz_table {
    uint32_t relid;
    char *schema, *table;
    char replident;
    uint16_t ncols;
    dbz_column_t *cols;
    int nkeys;
    dp_buf_t key_schema;    /* schema JSON of the key struct */
    dp_buf_t value_schema;  /* schema JSON of the envelope */
} dbz_table_t;

/* catalog facts for one column, looked up by the caller */
typedef struct dbz_catalog_col {
    const char *name;
    int not_null;
    int in_pk;
} dbz_catalog_col_t;

/* dbz_table_init: build t from a Relation message. cat (may be NULL, n
 * entries) supplies NOT NULL and primary key by column name; without it
 * the replica identity flags stand in for the key. */
dp_err_t dbz_table_init(dbz_table_t *t, const pgo_msg_t *rel, const dbz_catalog_col_t *cat,
                        size_t ncat, const dbz_options_t *opt, char *errstr, size_t errstr_size);
void dbz_table_fini(dbz_table_t *t);

/* source block facts of one event */
typedef struct dbz_source {
    int64_t commit_ts_us;     /* PostgreSQL commit time, µs since Unix epoch */
    uint32_t xid;
    uint64_t lsn;             /* LSN of the change */
    uint64_t last_commit_lsn; /* LSN of the previous commit (sequence[0]) */
    const char *snapshot;     /* "false", "true", "last" */
} dbz_source_t;

/* dbz_encode_key: key JSON of row (payload only when key schemas are off);
 * sets *has_key to 0 (and writes nothing) for tables without a key. */
dp_err_t dbz_encode_key(const dbz_table_t *t, const dbz_options_t *opt, const pgo_tuple_t *row,
                        dp_buf_t *out, int *has_key);
/* dbz_encode_value: envelope JSON for op 'c','u','d','r'; before/after may
 * be NULL. now_us is the processing time for ts_ms/ts_us/ts_ns. */
dp_err_t dbz_encode_value(const dbz_table_t *t, const dbz_options_t *opt, char op,
                          const pgo_tuple_t *before, const pgo_tuple_t *after,
                          const dbz_source_t *src, int64_t now_us, dp_buf_t *out);

/* Conversions, exposed for tests. */
/* dbz_decimal_unscaled: text numeric -> big-endian two's complement of the
 * value scaled by 10^scale (Java BigInteger.toByteArray form). */
dp_err_t dbz_decimal_unscaled(const char *s, size_t n, int scale, uint8_t *out, size_t cap,
                              size_t *outlen);
/* dbz_parse_timestamp: "YYYY-MM-DD HH:MM:SS[.f]" (optional "+HH[:MM]"
 * offset) -> µs since epoch, UTC. */
dp_err_t dbz_parse_timestamp(const char *s, size_t n, int64_t *us);
int64_t dbz_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
