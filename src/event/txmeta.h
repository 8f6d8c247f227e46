/* txmeta.h - Debezium's transaction metadata (provide.transaction.metadata):
 * the per-transaction counters of its TransactionContext, the envelope's
 * transaction block, and the BEGIN and END records of the transaction
 * topic, as Debezium 3.0.8's PostgreSQL connector writes them.
 *
 * What the reference does (checked against real Debezium by
 * tests/integration/test_0014_transaction_metadata.py):
 * - BEGIN is sent at pgoutput's Begin, END at its Commit, also for a
 *   transaction without captured events (event_count 0);
 * - every id is "<xid>:<LSN>" with the LSN of the message at hand (the
 *   Begin, the change, the Commit), so BEGIN, events and END of one
 *   transaction carry different ids;
 * - ts_ms of BEGIN and END is the commit time;
 * - each change event counts (not tombstones); per data collection
 *   "schema.table" in a Java HashMap<String, Long> that END lists in its
 *   iteration order, reproduced here (bucket by String.hashCode, then
 *   insertion order; the table never shrinks, as HashMap.clear() keeps it). */
#ifndef DP_EVENT_TXMETA_H
#define DP_EVENT_TXMETA_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "event/avro.h"
#include "event/debezium.h"

/* one data collection seen in the open transaction */
typedef struct dbz_txcoll {
    uint32_t off, len; /* its name in names */
    int32_t hash; /* Java String.hashCode of the name */
    uint64_t count;
} dbz_txcoll_t;

typedef struct dbz_txmeta {
    uint32_t xid;
    uint64_t total; /* events of the open transaction so far */
    dbz_txcoll_t *colls; /* in insertion order */
    uint32_t *order; /* scratch for END's iteration order */
    size_t ncolls, cap;
    size_t last; /* index of the last collection counted */
    dp_buf_t names;
    uint32_t java_cap; /* table size of Debezium's HashMap, 0 before the first put */
} dbz_txmeta_t;

void dbz_txmeta_init(dbz_txmeta_t *m);
void dbz_txmeta_fini(dbz_txmeta_t *m);
/* dbz_txmeta_begin: start counting transaction xid (forgets the last one). */
void dbz_txmeta_begin(dbz_txmeta_t *m, uint32_t xid);
/* dbz_txmeta_event: count one change event of schema.table at lsn and fill
 * its envelope block *out; DP_ERR_NOMEM when one transaction touches more
 * collections than the names buffer holds (16 MiB). */
dp_err_t dbz_txmeta_event(dbz_txmeta_t *m, const char *schema, const char *table, uint64_t lsn,
                          dbz_txblock_t *out);
/* the Connect schemas of the transaction topic's key and value */
#define DBZ_TXMETA_KEY_SCHEMA                                                                      \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"}]," \
    "\"optional\":false,\"name\":\"io.debezium.connector.common.TransactionMetadataKey\","         \
    "\"version\":1}"

#define DBZ_TXMETA_VALUE_SCHEMA                                                                    \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":"          \
    "\"status\"},{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},{\"type\":\"int64\","   \
    "\"optional\":true,\"field\":\"event_count\"},{\"type\":\"array\",\"items\":{\"type\":"        \
    "\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":"                    \
    "\"data_collection\"},{\"type\":\"int64\",\"optional\":false,\"field\":\"event_count\"}],"     \
    "\"optional\":true,\"name\":\"event.collection\",\"version\":1},\"optional\":true,"            \
    "\"field\":\"data_collections\"},{\"type\":\"int64\",\"optional\":false,\"field\":"            \
    "\"ts_ms\"}],\"optional\":false,\"name\":"                                                     \
    "\"io.debezium.connector.common.TransactionMetadataValue\",\"version\":1}"

/* The BEGIN (end 0) or END (end 1) record of the open transaction, at
 * message LSN lsn, commit time ts_us, one side at a time by its writer:
 * dbz_txmeta_json_key / _value write JsonConverter's form (with or
 * without schemas as opt says); dbz_txmeta_avro_key / _value append the
 * Avro body under the compiled schema t of DBZ_TXMETA_KEY_SCHEMA /
 * DBZ_TXMETA_VALUE_SCHEMA (the wire header is the caller's).
 * DP_ERR_NOMEM when a buffer's maximum is reached. */
dp_err_t dbz_txmeta_json_key(const dbz_txmeta_t *m, const dbz_options_t *opt, uint64_t lsn,
                             dp_buf_t *key);
dp_err_t dbz_txmeta_json_value(dbz_txmeta_t *m, const dbz_options_t *opt, int end, uint64_t lsn,
                               int64_t ts_us, dp_buf_t *value);
dp_err_t dbz_txmeta_avro_key(const dbz_txmeta_t *m, const dp_avro_type_t *t, uint64_t lsn,
                             dp_buf_t *out, char *errstr, size_t n);
dp_err_t dbz_txmeta_avro_value(dbz_txmeta_t *m, const dp_avro_type_t *t, int end, uint64_t lsn,
                               int64_t ts_us, dp_buf_t *out, char *errstr, size_t n);
/* dbz_java_string_hash: Java's String.hashCode of UTF-8 text s[0..n)
 * (over its UTF-16 code units). */
int32_t dbz_java_string_hash(const char *s, size_t n);

#endif
