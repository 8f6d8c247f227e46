/* internal.h - what the capture service's files share: the running
 * state of one capture and the steps snapshot.c and events.c share with capture.c.
 * Not part of any other module's interface. */
#ifndef DP_CAPTURE_INTERNAL_H
#define DP_CAPTURE_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>

#include "capture/acks.h"
#include "capture/capture.h"
#include "capture/eos_state.h"
#include "capture/position.h"
#include "capture/transforms.h"
#include "common/buf.h"
#include "common/relist.h"
#include "event/debezium.h"
#include "event/pipeline.h"
#include "event/unwrap.h"
#include "event/txmeta.h"
#include "kafka/kafka.h"
#include "kafka/topics.h"
#include "pg/catalog.h"
#include "pg/frame.h"
#include "pg/pgoutput.h"

#define MOD "capture"

/* delivery opaque of records outside the acknowledgement ring */
#define CAPTURE_NO_TXN UINTPTR_MAX

extern volatile sig_atomic_t capture_stop_requested;

typedef struct table_entry {
    uint32_t relid;
    int included;
    dbz_table_t t;
    dbz_plan_t plan; /* its Avro schemas and ids (event/pipeline.h) */
    char *topic;
    rd_kafka_topic_t *rkt;
} table_entry_t;

typedef struct capture {
    capture_settings_t s;
    dbz_options_t opt;
    dp_relist_t include, exclude;
    cap_transforms_t tf; /* RegexRouters, ExtractNewRecordState, message.key.columns */
    int skip_c, skip_u, skip_d, skip_t;

    PGconn *sql, *repl;
    /* the catalog facts of a relation when it is bound: NULL is pgcat_facts
     * on sql; the in-process tests give recorded facts */
    dp_err_t (*catalog)(struct capture *c, uint32_t relid, pgcat_facts_t *out, char *errstr,
                        size_t n);
    rd_kafka_t *rk;
    kfk_wakeup_t wake; /* readable when the producer's queue has events */
    pgo_decoder_t *dec;

    table_entry_t *tables;
    size_t ntables;

    cap_acks_t acks; /* source transactions until Kafka acknowledged them */
    uint32_t xid;
    int64_t commit_ts_us;
    uint64_t last_commit_lsn;

    uint64_t received_lsn, flushed_lsn;
    pgf_feedback_t fb; /* when the next status update goes to PostgreSQL */
    int delivery_failed;
    char delivery_err[512];
    char kafka_err[512]; /* the last "cluster unreachable" error, with what to check */
    rd_kafka_resp_err_t delivery_code; /* the first failed delivery's error */
    int restart; /* a failure a new producer heals (capture_main restarts) */

    int snapshot_only; /* snapshot.mode initial_only: no streaming */
    int snapshotting; /* reading a snapshot now (health says so, with its progress) */
    rd_kafka_topic_t *hb_rkt; /* heartbeat topic, once known to exist */
    int hb_state; /* 0 unchecked, 1 topic exists, -1 missing */
    int64_t hb_recheck_us; /* when to look for a missing heartbeat topic again */
    uint64_t heartbeats;
    uint64_t events, tombstones, txns, snapshot_rows;
    dbz_pipeline_t pipe; /* event -> record bytes; its key/value buffers also carry
                             * the transaction records and heartbeats */
    /* datapipe.exactly.once (eos.c) */
    int streaming; /* past the snapshot: positions are stored */
    eos_sm_t ktx; /* the Kafka transaction (eos_state.h) */
    int pg_lost; /* the stream ended with the connection: reconnect heals it */
    int pos_failed; /* a stored position was not delivered (at-least-once) */
    uint64_t reconnects;
    uint64_t cur_final_lsn; /* commit LSN of the transaction being read (Begin) */
    uint64_t txn_records; /* records of it so far, skipped ones included */
    uint64_t skip, skipped; /* records of it still to skip (UINT64_MAX: all); total */
    capture_eos_pos_t resume; /* the stored position, while the stream is before it */
    rd_kafka_topic_t *pos_rkt;
    dp_buf_t pos_key;
    struct capture_metrics *met; /* capture/metrics.h */
    /* provide.transaction.metadata: the open transaction's counters, and
     * its topic as a table entry (only topic and rkt used) for produce() */
    dbz_txmeta_t txm;
    table_entry_t tx_te;
    struct capture_avro *avro; /* convert.c: Avro converters, NULL when both sides are JSON */
    /* the headers ExtractNewRecordState made for the next produce() call
     * (owned; produce() hands them to librdkafka) */
    rd_kafka_headers_t *next_headers;
    kfk_topic_rules_t topic_rules; /* topic.creation.* (topics.c) */
} capture_t;

/* capture_setup_kafka: capture's setup up to PostgreSQL: the converters,
 * the table lists, transforms and topic rules, the producer (exactly-once:
 * init_transactions and the stored position), the acknowledgement ring and
 * the decoder. capture.c's setup then connects to PostgreSQL; the
 * in-process tests (tests/unit/test_capture_eos.c) feed pgoutput bytes to
 * capture_on_xlogdata instead. */
dp_err_t capture_setup_kafka(capture_t *c, char *errstr, size_t n);

/* capture_free: everything a capture_t holds, however far its setup got. */
void capture_free(capture_t *c);

/* topics.c: capture_topic_ready: topic (the topic for what, e.g. `table
 * "public.users"`) exists before its first record: found, or created as
 * topic.creation.* say; a timeout or an absent controller is tried again
 * with the retry policy's backoff (a few times, about a minute at most).
 * A refusal (not authorized, an invalid setting) is DP_ERR_KAFKA naming
 * the topic and the broker's reason; a missing topic without creation is
 * DP_ERR_KAFKA too. capture_heartbeat_topic: the same for the heartbeat
 * topic, in one attempt: *exists 1 there, 0 missing. */
dp_err_t capture_topic_ready(capture_t *c, const char *topic, const char *what, char *errstr,
                             size_t n);
dp_err_t capture_heartbeat_topic(capture_t *c, const char *topic, int *exists, char *errstr,
                                 size_t n);

/* capture_bind_table: (re)build te from a Relation message (plus catalog
 * facts), decide whether it is captured, and resolve its topic. */
dp_err_t capture_bind_table(capture_t *c, table_entry_t *te, const pgo_relation_t *rel,
                            char *errstr, size_t n);
/* capture_find_table / capture_add_table: the relation cache by oid. */
table_entry_t *capture_find_table(capture_t *c, uint32_t relid);
table_entry_t *capture_add_table(capture_t *c, uint32_t relid);
/* capture_begin_txn / capture_end_txn: a unit of acknowledgement in the
 * ring; events produced in between belong to it. */
dp_err_t capture_begin_txn(capture_t *c, char *errstr, size_t n);
void capture_end_txn(capture_t *c, uint64_t end_lsn);
/* eos.c: exactly-once delivery (see there). setup: init transactions and
 * read the stored position; open: a Kafka transaction for the next
 * record; on_begin: a PostgreSQL transaction starts (decides what to
 * skip); skip: called once per record, 1 when it is in Kafka already;
 * tick: commit when the interval passed (force: now), storing the
 * position; safe_seq: the ring entries before it may be confirmed. */
dp_err_t capture_eos_setup(capture_t *c, char *errstr, size_t n);
dp_err_t capture_eos_open(capture_t *c, char *errstr, size_t n);
void capture_eos_on_begin(capture_t *c, uint64_t final_lsn);
/* capture_eos_skip: 1 when Kafka holds the record from before a restart or
 * a reconnect (it counts in the position); capture_eos_sent counts a
 * record librdkafka accepted. A record counts only once it is in one or
 * the other: the position must never cover one that is not. */
int capture_eos_skip(capture_t *c);
void capture_eos_sent(capture_t *c);
dp_err_t capture_eos_tick(capture_t *c, int force, char *errstr, size_t n);
uint64_t capture_eos_safe_seq(const capture_t *c);
/* capture_eos_position: how far the records handed to Kafka reach, as a
 * stored position (valid 0 before the first transaction) */
capture_eos_pos_t capture_eos_position(const capture_t *c);
/* capture_eos_store_snapshot: durably mark in the offset topic that a
 * snapshot begins (running 1), or that it is done (running 0; after all
 * its records, and with exactly-once in their Kafka transaction). */
dp_err_t capture_eos_store_snapshot(capture_t *c, int running, char *errstr, size_t n);
/* capture_refused: librdkafka refused a record for topic with e. Under
 * exactly-once, ERR__STATE and ERR__FATAL come from the open
 * transaction's failure (capture_eos_refused); otherwise a producer that
 * hit a fatal error (its idempotence state is broken) is healed by a new
 * one, and anything else is the record's own refusal. */
dp_err_t capture_refused(capture_t *c, const char *topic, rd_kafka_resp_err_t e, char *errstr,
                         size_t n);
/* capture_eos_refused: librdkafka refused a record for topic with
 * ERR__STATE or ERR__FATAL: the open transaction failed under it (a record it could not
 * deliver, a partition the coordinator would not add, an epoch to bump).
 * Aborts it when it can, nothing past the last commit is confirmed, and
 * the error asks for a restart with a new producer (capture_main). */
dp_err_t capture_eos_refused(capture_t *c, const char *topic, char *errstr, size_t n);
/* capture_eos_flush: commit the open Kafka transaction now (bounded wait). */
dp_err_t capture_eos_flush(capture_t *c, char *errstr, size_t n);
void capture_eos_fini(capture_t *c);

/* capture_produce: hand one record to librdkafka for te's topic (NULL key
 * or value: null), inside the open Kafka transaction and the open ring
 * entry; waits (bounded by the stream's needs) while librdkafka's queue
 * is full. */
dp_err_t capture_produce(capture_t *c, table_entry_t *te, const void *key, size_t klen,
                         const void *val, size_t vlen, char *errstr, size_t n);
/* events.c: capture_on_xlogdata: one pgoutput message at lsn (Begin,
 * Commit, Relation, changes, Truncate). capture_txmeta_setup: the
 * transaction topic, through the transforms; it must exist. */
dp_err_t capture_on_xlogdata(capture_t *c, const unsigned char *p, size_t len, uint64_t lsn,
                             char *errstr, size_t n);
dp_err_t capture_txmeta_setup(capture_t *c, char *errstr, size_t n);

/* capture_emit: encode and produce one change event (and its tombstone). */
dp_err_t capture_emit(capture_t *c, table_entry_t *te, char op, const pgo_tuple_t *before,
                      const pgo_tuple_t *after, uint64_t lsn, int64_t now_us, const char *snapshot,
                      char *errstr, size_t n);
/* convert.c: key.converter / value.converter. capture_convert_setup checks
 * them (JsonConverter or AvroConverter) and opens the schema registry.
 * capture_encode: the record of one change event (c->pipe), waiting while
 * the schema registry is away. capture_encode_txmeta: the open
 * transaction's BEGIN (end 0) or END record, waiting alike.
 * capture_key_avro / capture_value_avro: the
 * converters (NULL: JsonConverter). */
dp_err_t capture_convert_setup(capture_t *c, char *errstr, size_t n);
dp_err_t capture_encode(capture_t *c, table_entry_t *te, const dbz_event_t *ev, dbz_record_t *rec,
                        char *errstr, size_t n);
dp_err_t capture_encode_txmeta(capture_t *c, int end, uint64_t lsn, int64_t ts_us,
                               dbz_record_t *rec, char *errstr, size_t n);
dp_avro_conv_t *capture_key_avro(const capture_t *c);
dp_avro_conv_t *capture_value_avro(const capture_t *c);
void capture_convert_fini(capture_t *c);
/* capture_serve: poll Kafka and move the confirmed position. */
void capture_serve(capture_t *c, int timeout_ms);
/* capture_wait_acked: serve Kafka until it acknowledged every record
 * handed to it (as long as that takes, until a stop request; why, when
 * not NULL, goes in a log line every 10 s and in /health). */
dp_err_t capture_wait_acked(capture_t *c, const char *why, char *errstr, size_t n);
/* reconnect.c: after the PostgreSQL connections were lost (why says how):
 * wait until Kafka has everything handed to it (committed, with
 * exactly-once), then connect again with the retry policy's backoff
 * until the slot streams, skipping what the slot sends again. Returns
 * DP_ERR_STOPPED on a stop request, or an error Kafka gave meanwhile. */
dp_err_t capture_reconnect(capture_t *c, const char *why, char *errstr, size_t n);
/* capture_metrics_state: what capture_metrics_tick wants to know now */
void capture_tick_metrics(capture_t *c, const char *waiting_for);

/* snapshot.c: read every captured table inside the exported snapshot
 * (op "r") before streaming starts at the slot's consistent point. */
dp_err_t capture_snapshot(capture_t *c, const char *snapshot_name, uint64_t consistent_lsn,
                          char *errstr, size_t n);

#endif
