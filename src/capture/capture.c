/* capture.c - the capture loop: read the pgoutput slot, encode Debezium
 * events, produce them to Kafka, and confirm to PostgreSQL only the
 * position of transactions Kafka fully acknowledged.
 *
 * Flow control: events handed to librdkafka but not yet acknowledged are
 * counted (and their bytes); at max.queue.size or max.queue.size.in.bytes
 * the loop stops reading the slot and only serves delivery reports, so a
 * slow or absent Kafka bounds memory instead of growing it. Transactions
 * are tracked in a ring in commit order: the flushed LSN moves to a
 * transaction's end only when it and every earlier one are acknowledged. */
#include "capture/capture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/relist.h"
#include "common/retry.h"
#include "event/debezium.h"
#include "kafka/kafka.h"
#include "pg/catalog.h"
#include "pg/pgoutput.h"
#include "pg/repl.h"
#include "capture/internal.h"
#include "capture/metrics.h"

volatile sig_atomic_t capture_stop_requested;
#define stop_requested capture_stop_requested
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* ---- Kafka ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    capture_t *c = opaque;
    if ((uintptr_t)m->_private == CAPTURE_NO_TXN) {
        int pos = c->pos_rkt && m->rkt == c->pos_rkt;
        if (m->err)
            dp_warn(MOD, "%s record not delivered: %s", pos ? "position" : "heartbeat",
                    rd_kafka_err2str(m->err));
        if (m->err && pos) c->pos_failed = 1;
        return;
    }
    cap_acks_acked(&c->acks, (uint64_t)(uintptr_t)m->_private, m->len + m->key_len, m->err != 0);
    if (m->err) capture_metrics_delivery_error(c->met);
    /* once the Kafka transaction failed, its records come back purged: the
     * failure on record (and whether a restart heals it) is the first one */
    if (m->err && !c->delivery_failed && c->ktx.state != EOS_FAILED) {
        c->delivery_failed = 1;
        c->delivery_code = m->err;
        c->restart = kfk_producer_restart_heals(m->err);
        snprintf(c->delivery_err, sizeof c->delivery_err, "delivery to \"%s\" [%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_err2str(m->err));
    }
}

/* advance: move flushed_lsn over every leading fully acknowledged txn */
static void advance(capture_t *c) {
    /* exactly-once: only what Kafka committed (capture_eos_safe_seq) */
    c->flushed_lsn =
        cap_acks_advance(&c->acks, capture_eos_safe_seq(c), c->flushed_lsn, c->received_lsn);
}

dp_err_t capture_refused(capture_t *c, const char *topic, rd_kafka_resp_err_t e, char *errstr,
                         size_t n) {
    if ((e == RD_KAFKA_RESP_ERR__STATE || e == RD_KAFKA_RESP_ERR__FATAL) && c->s.exactly_once)
        return capture_eos_refused(c, topic, errstr, n);
    char why[512] = "";
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        c->restart = 1;
        rd_kafka_fatal_error(c->rk, why, sizeof why);
    }
    return dp_seterr(errstr, n, DP_ERR_KAFKA, "produce to \"%s\": %s%s%s", topic,
                     rd_kafka_err2str(e), *why ? ": " : "", why);
}

dp_err_t capture_produce(capture_t *c, table_entry_t *te, const void *key, size_t klen,
                         const void *val, size_t vlen, char *errstr, size_t n) {
    uint64_t seq = c->acks.tail - 1; /* the open transaction */
    /* headers the transform made for this record: librdkafka owns them
     * once the record is accepted */
    rd_kafka_headers_t *hdrs = c->next_headers;
    c->next_headers = NULL;
    dp_err_t err = DP_OK;
    if (c->s.exactly_once) {
        /* a commit first when one is due: the record is not in it, and the
         * position it stores must not count the record yet */
        err = capture_eos_tick(c, 0, errstr, n);
        while (!err && c->ktx.state == EOS_COMMITTING) {
            rd_kafka_poll(c->rk, 10);
            if (stop_requested)
                err = DP_ERR_STOPPED;
            else
                err = capture_eos_tick(c, 1, errstr, n);
        }
    }
    /* then the record, unless Kafka has it from before a restart or a
     * reconnect; it counts in the position once librdkafka took it */
    if (err || capture_eos_skip(c) || (err = capture_eos_open(c, errstr, n))) {
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        return err;
    }
    for (;;) {
        rd_kafka_resp_err_t e = hdrs
            ? rd_kafka_producev(
                  c->rk, RD_KAFKA_V_RKT(te->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
                  RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq),
                  RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
            : rd_kafka_producev(c->rk, RD_KAFKA_V_RKT(te->rkt),
                                RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
                                RD_KAFKA_V_VALUE((void *)val, vlen),
                                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
        if (!e) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            return capture_refused(c, te->topic, e, errstr, n);
        }
        rd_kafka_poll(c->rk, 50);
        if (stop_requested) {
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            return DP_ERR_STOPPED;
        }
    }
    capture_eos_sent(c);
    cap_acks_sent(&c->acks, seq, klen + vlen);
    return DP_OK;
}

dp_err_t capture_begin_txn(capture_t *c, char *errstr, size_t n) {
    /* make room for the transaction in the ring; a failed delivery holds
     * the ring's head for good, so it ends the wait. With exactly-once the
     * entries read since the last Kafka commit leave the ring only with the
     * next one: waiting for room commits (or it would wait for itself). */
    int64_t next_note = dp_mono_us() + 10000000;
    while (cap_acks_full(&c->acks) && !stop_requested && !c->delivery_failed) {
        dp_err_t err = capture_eos_tick(c, 1, errstr, n);
        if (err) return err;
        capture_serve(c, 50);
        if (dp_mono_us() >= next_note) {
            dp_warn(MOD,
                    "waiting for room in the acknowledgement ring (%llu transactions, %lld "
                    "records unacknowledged, kafka transaction %s)",
                    (unsigned long long)(c->acks.tail - c->acks.head), (long long)c->acks.inflight,
                    eos_sm_state_name(c->ktx.state));
            next_note = dp_mono_us() + 10000000;
        }
    }
    if (stop_requested) return DP_ERR_STOPPED;
    if (c->delivery_failed) return dp_seterr(errstr, n, DP_ERR_KAFKA, "%s", c->delivery_err);
    cap_acks_begin(&c->acks);
    return DP_OK;
}

void capture_end_txn(capture_t *c, uint64_t end_lsn) { cap_acks_end(&c->acks, end_lsn); }

void capture_tick_metrics(capture_t *c, const char *waiting_for) {
    capture_metrics_tick(c->met, dp_mono_us(),
                         &(capture_metrics_state_t){c->flushed_lsn, c->received_lsn,
                                                    c->acks.inflight, c->acks.inflight_bytes,
                                                    c->txns, c->tombstones, c->delivery_failed,
                                                    c->delivery_err, waiting_for, c->reconnects,
                                                    c->snapshotting, c->snapshot_rows});
}

dp_err_t capture_wait_acked(capture_t *c, const char *why, char *errstr, size_t n) {
    int64_t next_note = dp_mono_us() + 10000000;
    while (rd_kafka_outq_len(c->rk) > 0 && !stop_requested && !c->delivery_failed) {
        capture_serve(c, 100);
        if (!why) continue;
        capture_tick_metrics(c, "waiting for kafka to acknowledge");
        if (dp_mono_us() >= next_note) {
            dp_warn(MOD, "waiting for Kafka to acknowledge %d records %s", rd_kafka_outq_len(c->rk),
                    why);
            next_note = dp_mono_us() + 10000000;
        }
    }
    if (c->delivery_failed) return dp_seterr(errstr, n, DP_ERR_KAFKA, "%s", c->delivery_err);
    return stop_requested ? DP_ERR_STOPPED : DP_OK;
}

void capture_serve(capture_t *c, int timeout_ms) {
    rd_kafka_poll(c->rk, timeout_ms);
    advance(c);
}

/* ---- the loop ---- */

/* feedback: a standby status update, stamped with the wall clock; the
 * schedule of the next one runs on the monotonic clock */
static dp_err_t feedback(capture_t *c, char *errstr, size_t n) {
    uint64_t written = c->received_lsn > c->flushed_lsn ? c->received_lsn : c->flushed_lsn;
    dp_err_t err = repl_send_feedback(c->repl, written, c->flushed_lsn, dp_wall_us(), errstr, n);
    int64_t now = dp_mono_us();
    if (!err) {
        if (c->flushed_lsn != c->fb.reported)
            dp_debug(MOD, "confirmed %X/%X", (unsigned)(c->flushed_lsn >> 32),
                     (unsigned)c->flushed_lsn);
        pgf_feedback_sent(&c->fb, now, c->flushed_lsn);
    }
    return err;
}

/* turn_deadline: when the loop must run again at the latest, whatever
 * arrives: a feedback due, the log line, a heartbeat, the open Kafka
 * transaction's commit, and twice a second for the metrics and /health */
static int64_t turn_deadline(const capture_t *c, int64_t now, int64_t next_log, int64_t next_hb) {
    int64_t d = now + 500000, fb = pgf_feedback_deadline(&c->fb, c->flushed_lsn);
    if (fb < d) d = fb;
    if (next_log < d) d = next_log;
    if (c->s.heartbeat_interval_ms > 0 && next_hb < d) d = next_hb;
    int64_t commit_at = eos_sm_commit_at(&c->ktx, c->s.transaction_interval_ms * 1000);
    if (c->ktx.state == EOS_OPEN && commit_at < d) d = commit_at;
    if (c->ktx.state == EOS_COMMITTING) d = now; /* the commit call itself waits */
    return d;
}

/* wait_turn: the loop's one wait, until the deadline, on librdkafka's
 * queue and (read_pg) the replication socket; then what PostgreSQL sent
 * is read in */
static dp_err_t wait_turn(capture_t *c, int64_t until, int read_pg, char *errstr, size_t n) {
    int64_t left = until - dp_mono_us();
    int ms = left <= 0 ? 0 : (int)((left + 999) / 1000);
    struct pollfd pfd[2] = {{c->wake.fd[0], POLLIN, 0},
                            {read_pg ? PQsocket(c->repl) : -1, POLLIN, 0}};
    if (poll(pfd, 2, ms) < 0 && errno != EINTR)
        return dp_seterr(errstr, n, DP_ERR_NET, "poll: %s", strerror(errno));
    kfk_wakeup_drain(&c->wake);
    if (read_pg && !PQconsumeInput(c->repl)) {
        c->pg_lost = 1;
        return dp_seterr(errstr, n, DP_ERR_NET, "replication connection: %s",
                         PQerrorMessage(c->repl));
    }
    return DP_OK;
}

/* heartbeat: run heartbeat.action.query and send Debezium's heartbeat
 * record (key serverName, value ts_ms). Failures are warnings: the
 * heartbeat is an aid, the stream goes on without it. */
static void heartbeat(capture_t *c, int64_t now) {
    if (*c->s.heartbeat_action_query) {
        PGresult *r = PQexec(c->sql, c->s.heartbeat_action_query);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            dp_warn(MOD, "heartbeat.action.query failed: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    char topic[600];
    snprintf(topic, sizeof topic, "%s.%s", c->s.heartbeat_topic_prefix, c->s.topic_prefix);
    if (c->hb_state < 0 && now >= c->hb_recheck_us) c->hb_state = 0;
    if (c->hb_state == 0) {
        char err[1024];
        int ex = 0; /* created if need be */
        dp_err_t e = capture_heartbeat_topic(c, topic, &ex, err, sizeof err);
        if (e || !ex) {
            if (!c->hb_recheck_us)
                dp_warn(MOD,
                        "heartbeat topic \"%s\": %s: heartbeats run the action query only "
                        "until it is there",
                        topic, e ? err : "does not exist");
            c->hb_state = -1;
            c->hb_recheck_us = now + 10000000;
            return;
        }
        c->hb_state = 1;
        c->hb_rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    }
    if (c->hb_state < 0) return;
    char terr[512];
    if (c->ktx.state == EOS_COMMITTING) return; /* the next one goes in the next transaction */
    dbz_record_t rec;
    /* a registry outage skips this heartbeat: it is an aid, and the stream
     * must not wait for it */
    if (dbz_pipeline_heartbeat(&c->pipe, topic, dp_wall_us() / 1000, &rec, terr, sizeof terr) ||
        capture_eos_open(c, terr, sizeof terr)) {
        dp_warn(MOD, "heartbeat: %s", terr);
        return;
    }
    const void *kp = rec.key, *vp = rec.value;
    size_t kn = rec.klen, vn = rec.vlen;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        c->rk, RD_KAFKA_V_RKT(c->hb_rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(kp, kn), RD_KAFKA_V_VALUE((void *)vp, vn),
        RD_KAFKA_V_OPAQUE((void *)CAPTURE_NO_TXN), RD_KAFKA_V_END);
    if (e)
        dp_warn(MOD, "heartbeat: %s", rd_kafka_err2str(e));
    else
        c->heartbeats++;
}

static dp_err_t stream(capture_t *c, char *errstr, size_t n) {
    pgf_feedback_init(&c->fb, c->s.status_update_interval_ms * 1000);
    int64_t next_log = dp_mono_us() + 10000000;
    int64_t hb_interval_us = c->s.heartbeat_interval_ms * 1000, next_heartbeat = dp_mono_us();
    int64_t waiting_since = 0, next_wait_note = 0; /* backpressure: since when, next log line */
    const char *waiting = NULL; /* what /health says capture waits for */
    dp_err_t err = DP_OK;
    c->streaming = 1;
    while (!err) {
        rd_kafka_poll(c->rk, 0);
        capture_tick_metrics(c, waiting);
        if (c->delivery_failed) return dp_seterr(errstr, n, DP_ERR_KAFKA, "%s", c->delivery_err);
        if ((err = capture_eos_tick(c, 0, errstr, n))) break;
        advance(c);
        int64_t now = dp_mono_us();
        if (pgf_feedback_due(&c->fb, now, c->flushed_lsn) && (err = feedback(c, errstr, n))) break;
        if (now >= next_log) {
            dp_info(MOD, "events=%llu txns=%llu inflight=%lld confirmed=%X/%X",
                    (unsigned long long)c->events, (unsigned long long)c->txns,
                    (long long)c->acks.inflight, (unsigned)(c->flushed_lsn >> 32),
                    (unsigned)c->flushed_lsn);
            next_log = now + 10000000;
        }
        if (hb_interval_us > 0 && now >= next_heartbeat) {
            heartbeat(c, now);
            next_heartbeat = now + hb_interval_us;
        }
        if (stop_requested) break;
        if (c->acks.inflight >= c->s.max_queue_size ||
            c->acks.inflight_bytes >= c->s.max_queue_size_bytes || c->ktx.state == EOS_COMMITTING) {
            /* backpressure (or a commit): serve acks, do not read */
            if ((err = wait_turn(c, turn_deadline(c, now, next_log, next_heartbeat), 0, errstr, n)))
                break;
            /* Kafka slow or away: after 5 s say so, in the log every 30 s and in /health */
            if (!waiting_since) waiting_since = now;
            if (now - waiting_since >= 5000000) {
                waiting = "waiting for kafka to acknowledge";
                if (now >= next_wait_note) {
                    dp_warn(MOD,
                            "waiting for Kafka: %lld records unacknowledged%s for %lld s; "
                            "not reading the slot meanwhile",
                            (long long)c->acks.inflight,
                            c->ktx.state == EOS_COMMITTING ? ", a transaction commit under way"
                                                           : "",
                            (long long)((now - waiting_since) / 1000000));
                    next_wait_note = now + 30000000;
                }
            }
            continue;
        }
        waiting_since = next_wait_note = 0;
        waiting = NULL;
        char *buf = NULL;
        int r = PQgetCopyData(c->repl, &buf, 1);
        if (r == 0) {
            err = wait_turn(c, turn_deadline(c, now, next_log, next_heartbeat), 1, errstr, n);
            continue;
        }
        if (r < 0) c->pg_lost = 1; /* a server restart ends the stream (-1) */
        if (r == -1)
            return dp_seterr(errstr, n, DP_ERR_PG, "replication stream ended by the server");
        if (r < 0)
            return dp_seterr(errstr, n, DP_ERR_NET, "replication connection: %s",
                             PQerrorMessage(c->repl));
        pgf_frame_t f;
        err = pgf_parse((const uint8_t *)buf, (size_t)r, &f, errstr, n);
        if (!err) capture_metrics_wal_end(c->met, f.wal_end);
        if (!err && f.kind == PGF_KEEPALIVE) {
            if (cap_acks_idle(&c->acks) && f.wal_end > c->received_lsn) c->received_lsn = f.wal_end;
            if (f.reply_requested) {
                advance(c);
                err = feedback(c, errstr, n);
            }
        } else if (!err) {
            err = capture_on_xlogdata(c, f.data, f.len, f.wal_start, errstr, n);
        }
        PQfreemem(buf);
    }
    return err;
}

static dp_err_t drop_slot(capture_t *c, char *errstr, size_t n);

/* pg_gone: the stream ended because a PostgreSQL connection did (a
 * restart, a network cut): a reconnect heals that. */
static int pg_gone(capture_t *c) {
    if (c->pg_lost) return 1;
    return (c->repl && PQstatus(c->repl) == CONNECTION_BAD) ||
        (c->sql && PQstatus(c->sql) == CONNECTION_BAD);
}

/* setup_options: skipped.operations and the encoder's options */
static void setup_options(capture_t *c) {
    capture_settings_t *s = &c->s;
    if (strcmp(s->skipped_operations, "none") != 0) {
        for (const char *p = s->skipped_operations; *p; p++) {
            switch (*p) {
            case 'c': c->skip_c = 1; break;
            case 'u': c->skip_u = 1; break;
            case 'd': c->skip_d = 1; break;
            case 't': c->skip_t = 1; break;
            default: break; /* ',' and ' '; the configuration checked the rest */
            }
        }
    }
    c->opt.topic_prefix = s->topic_prefix;
    c->opt.dbname = s->dbname;
    c->opt.schemas_enable = s->value_schemas_enable;
    c->opt.key_schemas_enable = s->key_schemas_enable;
    c->opt.decimal_mode = (dbz_decimal_mode_t)s->decimal_handling_mode;
    c->opt.time_mode = (dbz_time_mode_t)s->time_precision_mode;
    c->opt.binary_mode = (dbz_binary_mode_t)s->binary_handling_mode;
}

/* on_kafka_error: the producer's error events. The cluster unreachable or
 * refusing us is kept (capture_eos_setup reports it when the transaction
 * init times out) and logged; librdkafka retries on its own. */
static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    capture_t *c = opaque;
    if (!kfk_unreachable(err) && err != RD_KAFKA_RESP_ERR__FATAL) return;
    kfk_describe(err, reason, c->kafka_err, sizeof c->kafka_err);
    dp_warn(MOD, "kafka: %s", c->kafka_err);
}

/* setup_producer: the Kafka producer, transactional with exactly-once */
static dp_err_t setup_producer(capture_t *c, char *errstr, size_t n) {
    capture_settings_t *s = &c->s;
    dp_err_t err;
    char qsize[32], qbytes[32];
    snprintf(qsize, sizeof qsize, "%lld", s->max_queue_size * 2 + 1000);
    snprintf(qbytes, sizeof qbytes, "%lld", s->max_queue_size_bytes / 1024 * 2 + 1024);
    char txid[600];
    snprintf(txid, sizeof txid, "datapipe-capture-%s", s->name);
    /* exactly-once: a transactional producer (a message may wait for Kafka
     * as long as the transaction may stay open: 15 min, the brokers' max) */
    /* allow.auto.create.topics: topics capture creates itself (topic.creation.*)
     * must not be made by a broker's auto-creation, with its defaults, when a
     * metadata request looks for them first */
    const char *defaults[] = {"client.id",
                              s->name,
                              "compression.type",
                              "lz4",
                              "linger.ms",
                              "10",
                              "batch.size",
                              "1000000",
                              "queue.buffering.max.messages",
                              qsize,
                              "queue.buffering.max.kbytes",
                              qbytes,
                              "message.timeout.ms",
                              s->exactly_once ? "900000" : "0",
                              "allow.auto.create.topics",
                              c->topic_rules.enabled ? "false" : "true",
                              s->exactly_once ? "transactional.id" : NULL,
                              txid,
                              "transaction.timeout.ms",
                              "900000",
                              NULL};
    const char *forced[] = {"enable.idempotence", "true",           "acks", "all",
                            "partitioner",        "murmur2_random", NULL};
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, forced, &s->svc.kafka, errstr, n);
    if (!conf) return DP_ERR_CONFIG;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_opaque(conf, c);
    if (!(c->rk = kfk_new(RD_KAFKA_PRODUCER, conf, "producer", errstr, n))) return DP_ERR_KAFKA;
    if ((err = kfk_wakeup_init(&c->wake, c->rk, errstr, n))) return err;
    if ((err = capture_eos_setup(c, errstr, n))) return err;
    if (s->provide_transaction_metadata && (err = capture_txmeta_setup(c, errstr, n))) return err;
    return DP_OK;
}

/* setup_slot: the slot, and the snapshot when snapshot.mode wants one and
 * the slot is new (or lost its WAL, or a snapshot did not finish) */
static dp_err_t setup_slot(capture_t *c, char *errstr, size_t n) {
    capture_settings_t *s = &c->s;
    dp_err_t err;
    int mode = s->snapshot_mode;
    int want = mode == CAPTURE_SNAPSHOT_INITIAL || mode == CAPTURE_SNAPSHOT_INITIAL_ONLY ||
        mode == CAPTURE_SNAPSHOT_WHEN_NEEDED;
    /* a snapshot that began and did not finish (kill -9, crash) left its
     * mark in the stored position: the slot's position is not a complete
     * copy, start over. Kept in Kafka, so a capture user holding only
     * REPLICATION and SELECT has it. */
    int exists;
    if ((err = repl_slot_exists(c->sql, s->slot_name, &exists, errstr, n))) return err;
    if (c->resume.snapshot && exists && want) {
        dp_warn(MOD,
                "the snapshot for slot \"%s\" did not finish last time: dropping the "
                "slot and taking the snapshot again",
                s->slot_name);
        if ((err = drop_slot(c, errstr, n))) return err;
        exists = 0;
    }
    c->resume.snapshot = 0;
    /* the mark goes first: a crash at any later point is detected */
    if (want && !exists && (err = capture_eos_store_snapshot(c, 1, errstr, n))) return err;
    repl_slot_info_t slot;
    if ((err = repl_ensure_slot(c->sql, c->repl, s->slot_name, want, &slot, errstr, n))) return err;
    if (slot.wal_lost) {
        if (mode != CAPTURE_SNAPSHOT_WHEN_NEEDED)
            return dp_seterr(errstr, n, DP_ERR_PG,
                             "replication slot \"%s\" has lost WAL it needs (wal_status lost): "
                             "changes are missing; snapshot.mode=when_needed takes a new snapshot",
                             s->slot_name);
        dp_warn(MOD, "replication slot \"%s\" lost its WAL: dropping it and taking a new snapshot",
                s->slot_name);
        if ((err = drop_slot(c, errstr, n)) ||
            (err = capture_eos_store_snapshot(c, 1, errstr, n)) ||
            (err = repl_ensure_slot(c->sql, c->repl, s->slot_name, 1, &slot, errstr, n)))
            return err;
    }
    if (slot.created && want) {
        err = capture_snapshot(c, slot.snapshot, slot.consistent_lsn, errstr, n);
        if (err) {
            /* a half-read snapshot must not look done: without the slot (and
             * with the mark still set), the next start snapshots again */
            char derr[512];
            if (drop_slot(c, derr, sizeof derr))
                dp_warn(MOD, "%s", derr);
            else
                dp_warn(MOD, "dropped slot \"%s\": the snapshot did not finish", s->slot_name);
            return err;
        }
        /* every snapshot event acknowledged by Kafka (committed with the
         * mark's removal, with exactly-once): the snapshot is done */
        if ((err = capture_eos_store_snapshot(c, 0, errstr, n))) return err;
    } else if (mode == CAPTURE_SNAPSHOT_INITIAL_ONLY) {
        dp_info(MOD, "snapshot.mode initial_only and slot \"%s\" exists: nothing to do",
                s->slot_name);
    }
    if (mode == CAPTURE_SNAPSHOT_INITIAL_ONLY) {
        c->snapshot_only = 1;
        return DP_OK;
    }
    return repl_start(c->repl, s->slot_name, s->publication_name, errstr, n);
}

dp_err_t capture_setup_kafka(capture_t *c, char *errstr, size_t n) {
    capture_settings_t *s = &c->s;
    dp_err_t err;
    if (dp_log_set_level_name(s->svc.log_level) < 0) return DP_ERR_CONFIG;
    dbz_pipeline_init(&c->pipe, &c->opt, NULL, NULL, NULL, (size_t)s->max_event_bytes);
    if ((err = capture_convert_setup(c, errstr, n))) return err; /* convert.c */
    if ((err = dp_relist_compile(s->table_include_list, &c->include, "table.include.list", errstr,
                                 n)) ||
        (err = dp_relist_compile(s->table_exclude_list, &c->exclude, "table.exclude.list", errstr,
                                 n)) ||
        (err = cap_transforms_init(&c->tf, s, errstr, n)) ||
        (err = kfk_topic_rules_init(&c->topic_rules, s->topic_creation_enable,
                                    s->topic_creation_groups, &s->topic_creation_kv, errstr, n)))
        return err;
    c->pipe.unwrap = c->tf.unwrap; /* the stages, in the pipeline's order */
    c->pipe.key_avro = capture_key_avro(c);
    c->pipe.value_avro = capture_value_avro(c);
    setup_options(c);
    cap_acks_init(&c->acks, (uint64_t)s->max_queue_size + 1024);
    c->dec = dp_xmalloc(sizeof *c->dec);
    return setup_producer(c, errstr, n);
}

static dp_err_t capture_setup(capture_t *c, char *errstr, size_t n) {
    capture_settings_t *s = &c->s;
    dp_err_t err;
    if ((err = capture_setup_kafka(c, errstr, n))) return err;
    repl_conninfo_t ci;
    capture_conninfo(s, &ci);
    if (!(c->sql = repl_connect(&ci, 0, errstr, n))) return DP_ERR_NET;
    /* our checks first: they name the problem better than the walsender */
    if ((err = repl_check_server(c->sql, s->user, errstr, n))) return err;
    if (!(c->repl = repl_connect(&ci, 1, errstr, n))) return DP_ERR_NET;
    if ((err = repl_ensure_publication(c->sql, s->publication_name, s->publication_autocreate_mode,
                                       s->table_include_list, errstr, n)))
        return err;
    return setup_slot(c, errstr, n);
}

/* drop_slot: close the replication connection and drop the slot, waiting
 * (bounded) for the server to release it. */
static dp_err_t drop_slot(capture_t *c, char *errstr, size_t n) {
    repl_conninfo_t ci;
    capture_conninfo(&c->s, &ci);
    if (c->repl) PQfinish(c->repl);
    c->repl = NULL;
    dp_err_t err = DP_ERR_PG;
    for (int i = 0; i < 50 && err; i++) {
        err = repl_drop_slot(c->sql, c->s.slot_name, errstr, n);
        if (err) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    if (err) return err;
    c->repl = repl_connect(&ci, 1, errstr, n);
    return c->repl ? DP_OK : DP_ERR_NET;
}

/* capture_drain: wait (bounded) for outstanding acknowledgements, then
 * tell PostgreSQL the final confirmed position. */
static void capture_drain(capture_t *c) {
    if (!c->rk) return;
    char errstr[512];
    /* a failed Kafka transaction commits nothing more: what is queued in it
     * is dropped, not waited for until it times out */
    if (c->s.exactly_once && c->ktx.state == EOS_FAILED)
        rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 300 && rd_kafka_outq_len(c->rk) > 0; i++) rd_kafka_poll(c->rk, 100);
    rd_kafka_poll(c->rk, 0);
    if (!c->delivery_failed && capture_eos_flush(c, errstr, sizeof errstr))
        dp_warn(MOD, "final commit: %s", errstr);
    if (!c->delivery_failed) advance(c);
    if (c->repl && PQstatus(c->repl) == CONNECTION_OK && feedback(c, errstr, sizeof errstr))
        dp_warn(MOD, "final feedback: %s", errstr);
}

void capture_free(capture_t *c) {
    for (size_t i = 0; i < c->ntables; i++) {
        dbz_table_fini(&c->tables[i].t);
        dbz_plan_fini(&c->tables[i].plan);
        free(c->tables[i].topic);
        if (c->tables[i].rkt) rd_kafka_topic_destroy(c->tables[i].rkt);
    }
    free(c->tables);
    if (c->hb_rkt) rd_kafka_topic_destroy(c->hb_rkt);
    if (c->tx_te.rkt) rd_kafka_topic_destroy(c->tx_te.rkt);
    free(c->tx_te.topic);
    dbz_txmeta_fini(&c->txm);
    capture_eos_fini(c);
    kfk_wakeup_fini(&c->wake);
    if (c->rk) rd_kafka_destroy(c->rk);
    if (c->repl) PQfinish(c->repl);
    if (c->sql) PQfinish(c->sql);
    dp_relist_free(&c->include);
    dp_relist_free(&c->exclude);
    cap_transforms_fini(&c->tf);
    if (c->next_headers) rd_kafka_headers_destroy(c->next_headers);
    cap_acks_fini(&c->acks);
    free(c->dec);
    dbz_pipeline_fini(&c->pipe);
    capture_convert_fini(c);
    capture_metrics_destroy(c->met);
    kfk_topic_rules_fini(&c->topic_rules);
    cfg_free(&capture_config_table, &c->s);
}

/* capture_once: one life of capture, from the configuration to the stop;
 * *again says that it ended on a failure a new producer heals, or (in a
 * restart, restarting set) on any runtime failure: the slot still held by
 * the previous life's walsender, a server not back yet */
static int capture_once(int argc, char **argv, int restarting, int *again) {
    capture_t *c = dp_xcalloc(1, sizeof *c);
    c->wake.fd[0] = c->wake.fd[1] = -1;
    char errstr[1024] = "";
    dp_err_t err;
    int rc = cfg_load_cli(&capture_config_table, &c->s, argc, argv);
    if (rc) {
        rc = rc < 0 ? 0 : rc; /* --help, or an error already reported */
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!(c->met = capture_metrics_new(&c->s, errstr, sizeof errstr))) {
        dp_error(MOD, "%s", errstr);
        rc = 1;
        goto out;
    }
    if ((err = capture_setup(c, errstr, sizeof errstr))) {
        dp_error(MOD, "%s", errstr);
        rc = err == DP_ERR_CONFIG || err == DP_ERR_UNSUPPORTED ? 2 : 1;
        goto out;
    }
    if (c->snapshot_only) {
        err = DP_OK;
    } else {
        dp_info(MOD, "streaming from slot \"%s\" (publication \"%s\")", c->s.slot_name,
                c->s.publication_name);
        err = stream(c, errstr, sizeof errstr);
        /* PostgreSQL restarted or the network dropped: heal, go on */
        while (err && err != DP_ERR_STOPPED && pg_gone(c) &&
               !(err = capture_reconnect(c, errstr, errstr, sizeof errstr)))
            err = stream(c, errstr, sizeof errstr);
    }
    if (err && err != DP_ERR_STOPPED) {
        dp_error(MOD, "%s", errstr);
        rc = 1;
    }
    capture_metrics_stopping(c->met);
    capture_drain(c);
    if (!rc && c->s.slot_drop_on_stop && c->sql) {
        if (c->repl) {
            PQfinish(c->repl);
            c->repl = NULL;
        }
        if (repl_drop_slot(c->sql, c->s.slot_name, errstr, sizeof errstr))
            dp_warn(MOD, "%s", errstr);
    }
    dp_info(MOD, "stopped: events=%llu tombstones=%llu txns=%llu confirmed=%X/%X",
            (unsigned long long)c->events, (unsigned long long)c->tombstones,
            (unsigned long long)c->txns, (unsigned)(c->flushed_lsn >> 32),
            (unsigned)c->flushed_lsn);
out:
    *again = rc == 1 && (c->restart || restarting) && !stop_requested;
    capture_free(c);
    free(c);
    return rc;
}

/* capture_main: capture, started again (with the retry policy's backoff)
 * after a failure that only a new Kafka producer heals: its idempotence
 * or transaction state is broken (a broker lost acknowledged batches, the
 * coordinator aborted a transaction that outlived its timeout). What is
 * confirmed stays confirmed; the slot sends the rest again, and the
 * stored position skips what Kafka has. */
int capture_main(int argc, char **argv) {
    dp_retry_t retry = {0};
    for (;;) {
        int again = 0;
        int rc = capture_once(argc, argv, retry.failures > 0, &again);
        if (!again) return rc;
        long d = dp_retry_failed(&retry, dp_mono_ms());
        dp_warn(MOD, "restarting capture in %ld ms with a new Kafka producer", d);
        for (long waited = 0; waited < d && !stop_requested; waited += 100) {
            struct timespec nap = {0, 100000000};
            nanosleep(&nap, NULL);
        }
        if (stop_requested) return rc;
    }
}
