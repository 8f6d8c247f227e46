/* eos.c - exactly-once delivery into Kafka (datapipe.exactly.once).
 *
 * Every record goes out inside a Kafka transaction. Before each commit the
 * capture's stream position is written, in the same transaction, to the
 * compacted offset.storage.topic (as Kafka Connect's exactly-once source
 * tasks do): the final LSN of the PostgreSQL transaction being sent, how
 * many of its records are in, and whether it is complete. So a Kafka
 * commit makes the records and the position visible together, or neither.
 *
 * PostgreSQL is told a transaction is flushed only after the Kafka
 * transaction holding its last record committed. On a restart the slot
 * may send again what Kafka already holds (feedback lags); the stored
 * position says how much of it to skip: whole PostgreSQL transactions up
 * to it, and the first `records` records of the one it names. Records of
 * one transaction come out in the same order each time, so counting them
 * is exact. Readers with isolation.level=read_committed then see each
 * change once.
 *
 * A producer with the same transactional.id (a second capture with this
 * name) fences the older one; init_transactions also aborts what a
 * crashed predecessor left open. Snapshots are not covered: an interrupted
 * snapshot starts over (see capture_setup).
 *
 * The same record says, in both delivery modes, whether a snapshot began
 * and did not finish ("snapshot": true), as Debezium keeps snapshot state
 * in its offsets: a capture user with only REPLICATION and SELECT can
 * detect an interrupted snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "kafka/kafka.h"
#include "pg/repl.h"

#define TXN_TIMEOUT_MS 30000

/* txn_failed: a transactional call failed with e: a new producer heals
 * it. That includes "fenced": the coordinator fences a producer whose
 * transaction outlived transaction.timeout.ms just as a second capture
 * with this name would; with a real second capture, the one holding the
 * slot goes on and the other fails to get the slot. Not heals: a
 * transactional.id this principal may not use. */
static void txn_failed(capture_t *c, const rd_kafka_error_t *e) {
    c->restart = rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

/* step: move the transaction's state machine; a refused transition is a
 * bug in this file, logged once per event */
static void step(capture_t *c, eos_event_t ev, uint64_t commit_seq) {
    eos_state_t from = c->ktx.state;
    if (eos_sm_step(&c->ktx, ev, dp_mono_us(), commit_seq))
        dp_error(MOD, "kafka transaction: event %d refused in state %s", (int)ev,
                 eos_sm_state_name(from));
}

static dp_err_t txn_error(rd_kafka_error_t *e, const char *what, char *errstr, size_t n) {
    const char *hint = "";
    if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        hint =
            " (this principal may not use capture's transactional.id \"datapipe-capture-<name>\": "
            "grant it Write and Describe on that TransactionalId)";
    else if (rd_kafka_error_is_fatal(e))
        hint = " (fatal: another capture with this transactional.id took over?)";
    dp_err_t err = dp_seterr(errstr, n, DP_ERR_KAFKA, "kafka transaction %s: %s%s", what,
                             rd_kafka_error_string(e), hint);
    rd_kafka_error_destroy(e);
    return err;
}

/* txn_lost: the open transaction failed with e (its commit, or under a
 * record). From here on nothing past the last commit may be confirmed, on
 * any path (the shutdown drain included): the records of this transaction
 * are not in Kafka, and only a restart sends them again from the slot. An
 * abortable failure is aborted, which also drops the records still queued
 * in it; a fatal one stays for the new producer to fence. */
static dp_err_t txn_lost(capture_t *c, rd_kafka_error_t *e, const char *what, char *errstr,
                         size_t n) {
    char buf[400];
    txn_failed(c, e);
    if (rd_kafka_error_txn_requires_abort(e)) {
        /* failed first: the abort serves the reports of the records it
         * purges. Bounded (30 s); the life ends right after it. */
        step(c, EOS_EV_ABORTED, 0);
        rd_kafka_error_t *a = rd_kafka_abort_transaction(c->rk, TXN_TIMEOUT_MS);
        if (a) rd_kafka_error_destroy(a);
        snprintf(buf, sizeof buf, "%s (aborted; restart resumes from the last commit)", what);
        return txn_error(e, buf, errstr, n);
    }
    step(c, EOS_EV_FATAL, 0);
    return txn_error(e, what, errstr, n);
}

dp_err_t capture_eos_refused(capture_t *c, const char *topic, char *errstr, size_t n) {
    /* asking to begin another transaction changes nothing while one is
     * open or failed, and answers with the failure's own error */
    rd_kafka_error_t *e = rd_kafka_begin_transaction(c->rk);
    if (!e || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__STATE) {
        /* no failure on record (and, e NULL, a transaction just began):
         * librdkafka and this file disagree on the state, which only a
         * new producer sets right */
        if (e) rd_kafka_error_destroy(e);
        e = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE,
                               "librdkafka refused a record in an open transaction");
    }
    char what[300];
    snprintf(what, sizeof what, "failed under a record for \"%s\"", topic);
    return txn_lost(c, e, what, errstr, n);
}

/* position_key: Kafka Connect's offset key shape, ["<name>",{"server":"<prefix>"}] */
static void position_key(const capture_t *c, dp_buf_t *out) {
    dp_buf_reset(out);
    dp_buf_putc(out, '[');
    dp_json_put_str(out, c->s.name, strlen(c->s.name));
    dp_buf_puts(out, ",{\"server\":");
    dp_json_put_str(out, c->s.topic_prefix, strlen(c->s.topic_prefix));
    dp_buf_puts(out, "}]");
}

/* load_position: the last committed position under our key, read from the
 * offset topic with read_committed up to its end. */
static dp_err_t load_position(capture_t *c, char *errstr, size_t n) {
    const char *topic = c->s.offset_storage_topic;
    const char *defaults[] = {"client.id",
                              c->s.name,
                              "isolation.level",
                              "read_committed",
                              "enable.partition.eof",
                              "true",
                              "enable.auto.commit",
                              "false",
                              "group.id",
                              "datapipe-position-reader",
                              NULL};
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, NULL, &c->s.svc.kafka, errstr, n);
    if (!conf) return DP_ERR_CONFIG;
    rd_kafka_t *rk = kfk_new(RD_KAFKA_CONSUMER, conf, "position reader", errstr, n);
    if (!rk) return DP_ERR_KAFKA;
    dp_err_t err = DP_OK;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
        err = dp_seterr(errstr, n, DP_ERR_KAFKA,
                        "topic \"%s\" (offset.storage.topic, where exactly-once capture keeps "
                        "its position) is not readable: %s; create it (compacted) first",
                        topic,
                        e ? rd_kafka_err2str(e)
                            : md && md->topic_cnt == 1 && md->topics[0].err
                            ? rd_kafka_err2str(md->topics[0].err)
                            : "no partitions");
        if (md) rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return err;
    }
    int parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int i = 0; i < parts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    dp_buf_t key;
    dp_buf_init(&key, 4096);
    position_key(c, &key);
    int eof = 0;
    capture_eos_pos_t pos = {0};
    int64_t deadline = dp_mono_us() + 60000000;
    while (eof < parts && !err) {
        if (dp_mono_us() > deadline) {
            err = dp_seterr(errstr, n, DP_ERR_KAFKA,
                            "reading the position from \"%s\" took longer than 60 s", topic);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else if (m->err) {
            err = dp_seterr(errstr, n, DP_ERR_KAFKA, "reading the position from \"%s\": %s", topic,
                            rd_kafka_message_errstr(m));
        } else if (m->key_len == key.len && memcmp(m->key, key.data, key.len) == 0) {
            if (!m->payload) {
                memset(&pos, 0, sizeof pos); /* deleted */
            } else if (!capture_position_parse(m->payload, m->len, &pos)) {
                err = dp_seterr(errstr, n, DP_ERR_PROTO,
                                "the position in \"%s\" [%d] at offset %lld is not one datapipe "
                                "wrote: %.*s",
                                topic, m->partition, (long long)m->offset,
                                (int)(m->len > 200 ? 200 : m->len), (const char *)m->payload);
            }
        }
        rd_kafka_message_destroy(m);
    }
    dp_buf_fini(&key);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (!err) {
        c->resume = pos;
        if (pos.valid)
            dp_info(MOD, "position from \"%s\": transaction ending at %X/%X, %llu records%s%s",
                    topic, (unsigned)(pos.lsn_commit >> 32), (unsigned)pos.lsn_commit,
                    (unsigned long long)pos.records, pos.complete ? ", complete" : "",
                    pos.snapshot ? ", a snapshot did not finish" : "");
    }
    return err;
}

dp_err_t capture_eos_setup(capture_t *c, char *errstr, size_t n) {
    if (c->s.exactly_once) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(c->rk, TXN_TIMEOUT_MS);
        if (e) {
            c->kafka_err[0] = 0;
            rd_kafka_poll(c->rk, 0); /* the error events queued during the wait say why */
            dp_err_t err = txn_error(e, "init", errstr, n);
            size_t l = strlen(errstr);
            if (c->kafka_err[0] && l + 3 < n) snprintf(errstr + l, n - l, "; %s", c->kafka_err);
            return err;
        }
    }
    c->pos_rkt = rd_kafka_topic_new(c->rk, c->s.offset_storage_topic, NULL);
    dp_buf_init(&c->pos_key, 4096);
    position_key(c, &c->pos_key);
    return load_position(c, errstr, n);
}

dp_err_t capture_eos_open(capture_t *c, char *errstr, size_t n) {
    if (!c->s.exactly_once || eos_sm_open(&c->ktx)) return DP_OK;
    if (c->ktx.state == EOS_FAILED)
        return dp_seterr(errstr, n, DP_ERR_KAFKA,
                         "kafka transaction: failed earlier (a new producer is needed)");
    rd_kafka_error_t *e = rd_kafka_begin_transaction(c->rk);
    step(c, e ? EOS_EV_BEGIN_FAILED : EOS_EV_BEGIN, 0);
    if (e) {
        txn_failed(c, e);
        return txn_error(e, "begin", errstr, n);
    }
    return DP_OK;
}

void capture_eos_on_begin(capture_t *c, uint64_t final_lsn) {
    c->cur_final_lsn = final_lsn;
    c->txn_records = 0;
    c->skip = 0;
    capture_eos_pos_t *r = &c->resume;
    if (!r->valid) return;
    if (final_lsn < r->lsn_commit || (final_lsn == r->lsn_commit && r->complete)) {
        c->skip = UINT64_MAX; /* all of it is in Kafka */
    } else if (final_lsn == r->lsn_commit) {
        c->skip = r->records;
    } else {
        r->valid = 0; /* past the position: nothing more to skip */
        if (c->skipped)
            dp_info(MOD, "skipped %llu records already in Kafka", (unsigned long long)c->skipped);
    }
}

int capture_eos_skip(capture_t *c) {
    if (!c->skip) return 0;
    if (c->skip != UINT64_MAX) c->skip--;
    c->skipped++;
    c->txn_records++;
    return 1;
}

void capture_eos_sent(capture_t *c) { c->txn_records++; }

/* produce_position: hand the position record pos to librdkafka */
static dp_err_t produce_position(capture_t *c, const capture_eos_pos_t *pos, char *errstr,
                                 size_t n) {
    uint8_t val[160];
    /* on the stack: max leaves room for the NUL, so it never reallocates */
    dp_buf_t rec = {val, 0, sizeof val, sizeof val - 1, 0};
    if (capture_position_write(pos, &rec))
        return dp_seterr(errstr, n, DP_ERR_NOMEM, "position record larger than %zu bytes",
                         sizeof val);
    rd_kafka_resp_err_t pe;
    while ((pe = rd_kafka_producev(
                c->rk, RD_KAFKA_V_RKT(c->pos_rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(c->pos_key.data, c->pos_key.len),
                RD_KAFKA_V_VALUE(rec.data, rec.len), RD_KAFKA_V_OPAQUE((void *)CAPTURE_NO_TXN),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(c->rk, 10);
    return pe ? capture_refused(c, c->s.offset_storage_topic, pe, errstr, n) : DP_OK;
}

dp_err_t capture_eos_store_snapshot(capture_t *c, int running, char *errstr, size_t n) {
    /* a new slot's LSNs are past any stored position: nothing to skip */
    capture_eos_pos_t pos = {0, 0, 1, 1, running};
    dp_err_t err;
    if (!running && (err = capture_wait_acked(c, NULL, errstr, n))) return err;
    if ((err = capture_eos_open(c, errstr, n)) || (err = produce_position(c, &pos, errstr, n)))
        return err;
    if (c->s.exactly_once) return capture_eos_flush(c, errstr, n);
    c->pos_failed = 0;
    if ((err = capture_wait_acked(c, NULL, errstr, n))) return err;
    if (c->pos_failed)
        return dp_seterr(errstr, n, DP_ERR_KAFKA,
                         "the snapshot state could not be stored in \"%s\"",
                         c->s.offset_storage_topic);
    return DP_OK;
}

capture_eos_pos_t capture_eos_position(const capture_t *c) {
    /* where the stream is, never behind a position still being skipped up
     * to after a restart (the records up to it are in) */
    capture_eos_pos_t at = {c->cur_final_lsn, c->txn_records, !c->acks.open, c->cur_final_lsn != 0,
                            0};
    const capture_eos_pos_t *r = &c->resume;
    if (r->valid &&
        (!at.valid || r->lsn_commit > at.lsn_commit ||
         (r->lsn_commit == at.lsn_commit && !at.complete &&
          (r->complete || r->records > at.records))))
        at = *r;
    at.snapshot = 0; /* a streaming position: any snapshot is done */
    return at;
}

dp_err_t capture_eos_tick(capture_t *c, int force, char *errstr, size_t n) {
    if (!c->s.exactly_once) return DP_OK;
    if (c->ktx.state == EOS_FAILED)
        return dp_seterr(errstr, n, DP_ERR_KAFKA,
                         "kafka transaction: failed earlier (a new producer is needed)");
    if (!eos_sm_open(&c->ktx)) return DP_OK;
    if (c->ktx.state == EOS_OPEN) {
        if (!force &&
            !eos_sm_commit_due(&c->ktx, dp_mono_us(), c->s.transaction_interval_ms * 1000))
            return DP_OK;
        capture_eos_pos_t at = capture_eos_position(c);
        if (c->streaming && at.valid) {
            dp_err_t err = produce_position(c, &at, errstr, n);
            if (err) return err;
        }
        /* what the commit makes safe: every transaction before the open one */
        step(c, EOS_EV_COMMIT_START, c->acks.open ? c->acks.tail - 1 : c->acks.tail);
    }
    /* short waits: the loop goes on answering PostgreSQL's keepalives
     * while Kafka is slow; nothing new is produced until this commit is in */
    rd_kafka_error_t *e = rd_kafka_commit_transaction(c->rk, 200);
    if (!e) {
        step(c, EOS_EV_COMMITTED, 0);
        return DP_OK;
    }
    if (rd_kafka_error_is_retriable(e)) {
        rd_kafka_error_destroy(e);
        step(c, EOS_EV_RETRY, 0);
        return DP_OK; /* the next tick tries again */
    }
    return txn_lost(c, e, "commit", errstr, n);
}

dp_err_t capture_eos_flush(capture_t *c, char *errstr, size_t n) {
    int64_t deadline = dp_mono_us() + 60000000;
    while (c->s.exactly_once && eos_sm_open(&c->ktx)) {
        dp_err_t err = capture_eos_tick(c, 1, errstr, n);
        if (err) return err;
        if (!eos_sm_open(&c->ktx)) break;
        if (dp_mono_us() > deadline)
            return dp_seterr(errstr, n, DP_ERR_KAFKA,
                             "kafka transaction commit: no answer in 60 s");
        rd_kafka_poll(c->rk, 10);
    }
    return DP_OK;
}

uint64_t capture_eos_safe_seq(const capture_t *c) {
    if (!c->s.exactly_once) return c->acks.tail;
    /* between transactions every record received is in a committed one;
     * after a failed commit only what the last good commit covered */
    return eos_sm_safe_seq(&c->ktx, c->acks.tail);
}

void capture_eos_fini(capture_t *c) {
    if (c->pos_rkt) rd_kafka_topic_destroy(c->pos_rkt);
    c->pos_rkt = NULL;
    dp_buf_fini(&c->pos_key);
}
