/* pipeline.h - from one typed change event to the bytes of its Kafka record.
 *
 * The stages every change event takes, in one place: the key, the value
 * envelope, ExtractNewRecordState (when configured), and the converters.
 * Each side is written once by its final writer: JsonConverter's
 * (debezium.h, unwrap.h) or, for an AvroConverter side, the Avro writer
 * (avro_event.h) straight from the typed event, transformed or not. Only
 * a transform configured to copy a whole struct (or, as a header, a column) into the
 * value (the plan's DBZ_UNWRAP_PLAN_JSON) works on the JSON form, which
 * is then transcoded (dp_avro_conv_run). The records that are not change
 * events (heartbeats, transaction metadata) are written by their writers
 * the same way, each side once.
 *
 * No Kafka and no PostgreSQL in here: capture feeds it and produces what
 * it returns; bench/bench_encode.c feeds it the same way. */
#ifndef DP_EVENT_PIPELINE_H
#define DP_EVENT_PIPELINE_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "event/avro.h"
#include "event/debezium.h"
#include "event/txmeta.h"
#include "event/unwrap.h"

/* one table's compiled Avro schemas and registry ids, kept with the table
 * (dbz_plan_fini when the table is bound again) */
typedef struct dbz_plan_side {
    const dp_avro_schema_t *schema; /* NULL: not compiled yet */
    int32_t id;
    uint64_t generation; /* of the converter's cache it came from */
} dbz_plan_side_t;

typedef struct dbz_plan {
    dbz_plan_side_t key, value;
    /* ExtractNewRecordState: what it makes of the table's events, and the
     * compiled schemas of the new value ([0] after, [1] before, [2] null) */
    dbz_unwrap_plan_t unwrap;
    dbz_plan_side_t unwrapped[3];
} dbz_plan_t;

/* dbz_plan_init: an empty plan; dbz_plan_fini frees one and leaves it empty
 * (when its table is bound again, and at the end) */
void dbz_plan_init(dbz_plan_t *p);
void dbz_plan_fini(dbz_plan_t *p);

typedef struct dbz_pipeline {
    const dbz_options_t *opt;
    dbz_unwrap_t *unwrap; /* NULL: no ExtractNewRecordState */
    dp_avro_conv_t *key_avro; /* NULL: the key side is JsonConverter */
    dp_avro_conv_t *value_avro; /* NULL: the value side is JsonConverter */
    dp_buf_t key, value; /* the record's bytes (an empty value: null) */
    dp_buf_t spare; /* swapped with value by transform and transcoder */
    dp_avro_tok_t tok;
    dbz_unwrapped_t uw; /* the transform's result for the event at hand */
    dbz_plan_t heartbeat; /* the heartbeat record's Avro schemas (key, value) */
    dbz_plan_t txmeta; /* the transaction records' Avro schemas (key, value) */
} dbz_pipeline_t;

/* the record dbz_pipeline_event made: pointers into the pipeline's buffers */
typedef struct dbz_record {
    int drop; /* a transform dropped it: produce nothing */
    const void *key; /* NULL: a null key */
    size_t klen;
    const void *value; /* NULL: a null value (a tombstone) */
    size_t vlen;
} dbz_record_t;

/* dbz_pipeline_init: the stages are given by the caller (opt, unwrap and
 * the converters stay the caller's); max_bytes bounds each output. */
void dbz_pipeline_init(dbz_pipeline_t *p, const dbz_options_t *opt, dbz_unwrap_t *unwrap,
                       dp_avro_conv_t *key_avro, dp_avro_conv_t *value_avro, size_t max_bytes);
void dbz_pipeline_fini(dbz_pipeline_t *p);

/* dbz_pipeline_prepare: the part of table t's plan that needs no server,
 * made when the table is bound (a Relation message, a snapshot's start):
 * the transform's plan. The Avro schemas are compiled and registered by
 * the table's first record (dbz_pipeline_event), as Confluent's serializer
 * registers at the first record it writes: a table without records
 * registers nothing, and a registry away is waited for where capture goes
 * on serving PostgreSQL and Kafka. */
dp_err_t dbz_pipeline_prepare(dbz_pipeline_t *p, dbz_plan_t *plan, const dbz_table_t *t,
                              char *errstr, size_t n);
/* dbz_pipeline_event: the record of ev for topic (the table's plan caches
 * its Avro schemas). A schema registry that cannot be reached is
 * DP_ERR_NET: nothing was lost, call again later. The add.headers of the
 * transform are in p->unwrap until the next call. */
dp_err_t dbz_pipeline_event(dbz_pipeline_t *p, dbz_plan_t *plan, const char *topic,
                            const dbz_event_t *ev, dbz_record_t *rec, char *errstr, size_t n);
/* dbz_pipeline_tombstone: the tombstone that follows the delete event
 * dbz_pipeline_event just made (same key, null value), through the
 * transform; rec->drop when it drops tombstones. */
dp_err_t dbz_pipeline_tombstone(dbz_pipeline_t *p, dbz_record_t *rec, char *errstr, size_t n);

/* dbz_pipeline_heartbeat: Debezium's heartbeat record at ts_ms for topic
 * (key serverName, value ts_ms), each side by its writer. DP_ERR_NET: the
 * schema registry cannot be reached. */
dp_err_t dbz_pipeline_heartbeat(dbz_pipeline_t *p, const char *topic, int64_t ts_ms,
                                dbz_record_t *rec, char *errstr, size_t n);

/* dbz_pipeline_txmeta: the BEGIN (end 0) or END record of the open
 * transaction of m at message LSN lsn, commit time ts_us, for topic; each
 * side by its writer. DP_ERR_NET: the schema registry cannot be reached. */
dp_err_t dbz_pipeline_txmeta(dbz_pipeline_t *p, dbz_txmeta_t *m, int end, uint64_t lsn,
                             int64_t ts_us, const char *topic, dbz_record_t *rec, char *errstr,
                             size_t n);

#endif
