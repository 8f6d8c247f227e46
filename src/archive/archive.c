/* archive.c - the archive loop: consume, convert each Debezium event into
 * a row of the seed's s3_cdc_events table, write Parquet into a streamed
 * S3 upload per (topic, partition, time path), and commit a partition's
 * offset only after the object holding its records is in S3.
 *
 * One file is open per topic-partition at a time; a record for another
 * time path closes it first. Files close at flush.size records, after
 * rotate.interval.ms of wall-clock time, at rotate.schedule.interval.ms
 * boundaries, and on shutdown. A failed upload drops the file and seeks
 * the partition back to the file's first offset, so Kafka stays the
 * buffer and nothing is committed that is not in S3. */
#include "archive/archive.h"

#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/retry.h"
#include "kafka/kafka.h"
#include "parquet/footer.h"
#include "parquet/writer.h"
#include "s3/client.h"
#include "archive/metrics.h"
#include "archive/convert.h"
#include "s3/credentials.h"

#define MOD "archive"
/* a dead-letter record is given up after 30 s; the wait for it is bounded a bit above */
#define DLQ_TIMEOUT_MS "30000"
#define DLQ_WAIT_MS 45000

/* set by signal handlers and by any task thread, read by all: atomics
 * (lock-free, so also safe in a signal handler) */
static atomic_int stop_requested, drain_requested;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free for signal handlers");
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}
/* SIGUSR1: archive everything up to the current end of the topics, then stop */
static void on_drain(int sig) {
    (void)sig;
    drain_requested = 1;
}

void archive_request(int stop, int drain) {
    stop_requested = stop;
    drain_requested = drain;
}

static atomic_int seek_faults; /* archive_fail_seeks */
void archive_fail_seeks(int n) { seek_faults = n; }

static const pqt_column_def_t columns[ARC_NCOLS] = {
    {"event_timestamp", PQT_TIMESTAMP_MILLIS, 1},
    {"operation_type", PQT_STRING, 0},
    {"table_name", PQT_STRING, 1},
    {"connector_version", PQT_STRING, 1},
    {"database_name", PQT_STRING, 1},
    {"schema_name", PQT_STRING, 1},
    {"transaction_id", PQT_INT64, 1},
    {"lsn", PQT_INT64, 1},
    {"before_data", PQT_STRING, 1},
    {"after_data", PQT_STRING, 1},
    {"kafka_topic", PQT_STRING, 0},
    {"kafka_partition", PQT_INT32, 0},
    {"kafka_offset", PQT_INT64, 0},
};

typedef struct open_file {
    char path[512];
    char key[1536];
    int64_t start_offset, end_offset;
    int64_t opened_us; /* dp_mono_us: rotate.interval.ms counts from it */
    int64_t opened_wall_ms; /* rotate.schedule.interval.ms cuts at wall-clock boundaries */
    uint64_t rows;
    pqt_writer_t *w;
    s3_upload_t *up;
} open_file_t;

typedef struct part {
    char *topic;
    int32_t partition;
    int64_t last_seen; /* last offset consumed, -1 none */
    int64_t committed; /* next offset committed, -1 unknown */
    int64_t uncommitted; /* offset whose commit failed after its object was uploaded, -1 none */
    int eof; /* consumed up to the end the broker reported (EOF event) */
    int64_t eof_offset; /* that end */
    int halted; /* paused at last_seen + 1: its record cannot be handled now, or a seek there failed */
    dp_retry_t retry; /* when to read that record again */
    open_file_t *f;
} part_t;

typedef struct archive {
    archive_settings_t s;
    rd_kafka_t *rk, *dlq;
    rd_kafka_resp_err_t dlq_err; /* the dead-letter record's delivery result */
    s3_client_t *s3;
    part_t *parts;
    size_t nparts;
    dp_json_t json;
    arc_row_t row;
    arc_convert_t *conv; /* archive/convert.c: AvroConverter values, NULL for JSON */
    const char *ext;
    int fail_backoff; /* seconds, doubled per failed upload */
    int64_t pause_until_us;
    dp_breaker_t breaker; /* S3: 5 failed uploads in a row pause consumption 30 s */
    s3_credentials_t creds; /* kept when they expire (web identity), to refresh */
    int64_t next_cred_check_ms;
    uint64_t unchecked; /* record bytes since the memory bound was last checked */
    uint64_t records, rows, files, bytes, tombstones, dlq_count;
    uint64_t met_records, met_tombstones, met_dlq; /* what the metrics have of them */
    int64_t next_metrics_us;
    int64_t next_drain_check_us;
    int assigned; /* a rebalance has handed this consumer its partitions */
    int64_t rebalanced_ms; /* when the last assignment or revocation came (monotonic) */
    archive_metrics_t *met;
    int task, ntasks; /* this consumer's number, of tasks.max */
    long long prefetch; /* bytes librdkafka may prefetch for this task */
    int rc; /* the task's result: 0 clean stop, 1 failed */
    int fatal; /* a failure that must stop the task without a clean close */
    int kafka_down; /* the cluster unreachable or refusing our login (health 503) */
    int kafka_refused; /* our group or topics not authorized (health 503 until assigned) */
    int kafka_fatal; /* a client's fatal error: the task stops */
    int64_t next_probe_us; /* when to ask the cluster again while it is down */
} archive_t;

/* Deadlines, backoff and ages run on the monotonic clock (common/clock.h);
 * rotate.schedule.interval.ms boundaries, the Wallclock extractor and
 * credential expiry are wall times. */

static part_t *get_part(archive_t *a, const char *topic, int32_t partition, int create) {
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].partition == partition && strcmp(a->parts[i].topic, topic) == 0)
            return &a->parts[i];
    if (!create) return NULL;
    a->parts = dp_xrealloc(a->parts, sizeof *a->parts * (a->nparts + 1));
    part_t *p = &a->parts[a->nparts++];
    memset(p, 0, sizeof *p);
    p->topic = dp_xstrdup(topic);
    p->partition = partition;
    p->last_seen = -1;
    p->committed = -1;
    p->uncommitted = -1;
    return p;
}

static void file_drop(open_file_t *f) {
    if (!f) return;
    pqt_writer_destroy(f->w);
    if (f->up) s3_upload_abort(f->up);
    free(f);
}

static dp_err_t sink(void *ctx, const void *data, size_t len, char *errstr, size_t n) {
    open_file_t *f = ctx;
    return s3_upload_write(f->up, data, len, errstr, n);
}

static dp_err_t file_open(archive_t *a, part_t *p, const char *path, int64_t offset, char *errstr,
                          size_t n) {
    open_file_t *f = dp_xcalloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->key, sizeof f->key, "%s/%s/%s+%d+%0*lld%s", a->s.topics_dir, path, p->topic,
             p->partition, (int)a->s.filename_offset_zero_pad_width, (long long)offset, a->ext);
    f->start_offset = f->end_offset = offset;
    f->opened_us = dp_mono_us();
    f->opened_wall_ms = dp_wall_us() / 1000;
    f->up = s3_upload_begin(a->s3, f->key, "application/octet-stream");
    pqt_options_t opt = {(pqt_codec_t)a->s.parquet_codec, (size_t)a->s.row_group_bytes,
                         (size_t)a->s.row_group_bytes * 2};
    f->w = pqt_writer_new(columns, ARC_NCOLS, &opt, sink, f);
    if (!f->up || !f->w) {
        file_drop(f);
        return dp_seterr(errstr, n, DP_ERR_INVALID, "cannot open file \"%s\"", f->key);
    }
    p->f = f;
    return DP_OK;
}

/* commit_part: commit offset next for p (synchronous). A failure is
 * remembered in p->uncommitted: until a later commit succeeds, no further
 * file of p may be uploaded (see file_close). */
static dp_err_t commit_part(archive_t *a, part_t *p, int64_t next) {
    if (next <= p->committed) return DP_OK;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = next;
    rd_kafka_resp_err_t e = rd_kafka_commit(a->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        dp_warn(MOD,
                "commit of \"%s\" [%d] at %lld failed: %s (the object is in S3; a "
                "replay rewrites the same key)",
                p->topic, p->partition, (long long)next, rd_kafka_err2str(e));
        if (next > p->uncommitted) p->uncommitted = next;
        return DP_ERR_KAFKA;
    }
    p->committed = next;
    if (next >= p->uncommitted) p->uncommitted = -1;
    return DP_OK;
}

/* set_paused: pause or resume fetching one partition */
static void set_paused(archive_t *a, part_t *p, int pause) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(a->rk, l) : rd_kafka_resume_partitions(a->rk, l);
    if (e)
        dp_warn(MOD, "%s \"%s\" [%d]: %s", pause ? "pause" : "resume", p->topic, p->partition,
                rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* halt: pause p at last_seen + 1 until its retry is due (on_timer resumes
 * and seeks it there); returns the delay chosen */
static long halt(archive_t *a, part_t *p) {
    long d = dp_retry_failed(&p->retry, dp_mono_ms());
    p->halted = 1;
    set_paused(a, p, 1);
    return d;
}

/* seek_back: read p again from offset (back after a failed upload, or on
 * past an adopted object that ends beyond the records read) */
static void seek_back(archive_t *a, part_t *p, int64_t offset) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    char why[256] = "";
    if (seek_faults > 0 && atomic_fetch_sub(&seek_faults, 1) > 0) {
        snprintf(why, sizeof why, "failed as the test asked");
    } else {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(a->rk, l, 10000);
        if (e) {
            snprintf(why, sizeof why, "%s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    if (!why[0] && l->elems[0].err)
        snprintf(why, sizeof why, "%s", rd_kafka_err2str(l->elems[0].err));
    rd_kafka_topic_partition_list_destroy(l);
    p->last_seen = offset - 1;
    p->eof = 0;
    if (!why[0]) return;
    /* librdkafka reads on from wherever it was: hold the partition like a
     * record that cannot be handled now (its records are dropped, nothing
     * past offset is committed) and seek again when the retry is due */
    long d = halt(a, p); /* not inside the log call: a level filter skips its arguments */
    dp_warn(MOD,
            "seek of \"%s\" [%d] to %lld failed: %s (the partition waits, nothing past it is "
            "committed; trying again in %ld ms)",
            p->topic, p->partition, (long long)offset, why, d);
}

/* breaker_note: log and export a change of the S3 breaker's state */
static void breaker_note(archive_t *a, dp_breaker_state_t before) {
    dp_breaker_state_t now = dp_breaker_state(&a->breaker);
    if (now == before) return;
    if (now == DP_BREAKER_OPEN)
        dp_warn(MOD, "s3 circuit breaker open: pausing consumption for %lld ms",
                (long long)a->breaker.policy.open_ms);
    else
        dp_info(MOD, "s3 circuit breaker %s", dp_breaker_state_name(now));
    archive_metrics_breaker(a->met, a->task, (int)now);
}

/* adopt: f's key holds an object already (datapipe.s3.create.only): one
 * that an earlier run uploaded and died before committing, or one that an
 * archiver which lost p without noticing uploaded. It starts at the same
 * offset (the key says so) but may end elsewhere: its footer says where.
 * Keep it, commit after its end and read on from there; the rows of f are
 * dropped, so every offset stays in exactly one object. */
static dp_err_t adopt(archive_t *a, part_t *p, open_file_t *f, char *errstr, size_t n) {
    dp_buf_t tail;
    dp_buf_init(&tail, 64u << 20);
    char end[32], topic[256], part[16];
    size_t want = 64 * 1024, need = 0;
    dp_err_t err;
    for (;;) {
        dp_buf_reset(&tail);
        err = s3_get_tail(a->s3, f->key, want, &tail, errstr, n);
        if (!err)
            err = pqt_footer_kv(tail.data, tail.len, "datapipe.kafka.end.offset", end, sizeof end,
                                &need, errstr, n);
        if (err != DP_ERR_FULL || need <= want || need > tail.max) break;
        want = need;
    }
    if (!err)
        err = pqt_footer_kv(tail.data, tail.len, "datapipe.kafka.topic", topic, sizeof topic, &need,
                            errstr, n);
    if (!err)
        err = pqt_footer_kv(tail.data, tail.len, "datapipe.kafka.partition", part, sizeof part,
                            &need, errstr, n);
    dp_buf_fini(&tail);
    char *e = NULL, *pe = NULL;
    long long last = err ? -1 : strtoll(end, &e, 10);
    long pn = err ? -1 : strtol(part, &pe, 10);
    if (!err &&
        (strcmp(topic, p->topic) || !*part || *pe || pn != p->partition || *e ||
         last < f->start_offset))
        err = dp_seterr(errstr, n, DP_ERR_INVALID, "its footer names \"%s\" [%s] up to offset %s",
                        topic, part, end);
    if (err) {
        /* not ours to judge: stop rather than overwrite or skip anything */
        dp_error(MOD,
                 "\"%s\" exists and cannot be adopted (%s); stopping without committing past "
                 "offset %lld",
                 f->key, errstr, (long long)f->start_offset);
        a->fatal = 1;
        stop_requested = 1;
        return err;
    }
    dp_warn(MOD,
            "\"%s\" exists already with offsets %lld..%lld (an earlier run or another "
            "archiver wrote it); keeping it and going on from offset %lld",
            f->key, (long long)f->start_offset, last, last + 1);
    /* further on: the records up to last still arriving are dropped by
     * on_message (offset <= last_seen); further back: read them again */
    if (last < p->last_seen) seek_back(a, p, last + 1);
    p->last_seen = last;
    commit_part(a, p, last + 1);
    return DP_OK;
}

/* file_close: finish and upload p's file, then commit. On failure the
 * file is dropped and the partition re-read from the file's start. */
static dp_err_t file_close(archive_t *a, part_t *p) {
    open_file_t *f = p->f;
    if (!f) return DP_OK;
    p->f = NULL;
    char errstr[1024], kv_start[24], kv_end[24], kv_part[16];
    snprintf(kv_start, sizeof kv_start, "%lld", (long long)f->start_offset);
    snprintf(kv_end, sizeof kv_end, "%lld", (long long)f->end_offset);
    snprintf(kv_part, sizeof kv_part, "%d", p->partition);
    const char *keys[] = {"datapipe.kafka.topic", "datapipe.kafka.partition",
                          "datapipe.kafka.start.offset", "datapipe.kafka.end.offset"};
    const char *vals[] = {p->topic, kv_part, kv_start, kv_end};
    int64_t t0 = dp_mono_us();
    dp_err_t err = DP_OK;
    /* Exactly once: a replay starts at the committed offset and rewrites
     * only the key of the file starting there, and where that file ends
     * depends on the wall clock (rotation, memory bound). So at most one
     * uploaded object may lie past the committed offset: while an earlier
     * commit of p is missing, this file is not uploaded but re-read. */
    if (p->uncommitted >= 0 && commit_part(a, p, p->uncommitted))
        err = dp_seterr(errstr, sizeof errstr, DP_ERR_KAFKA,
                        "offset %lld of the previous object is not committed yet",
                        (long long)p->uncommitted);
    /* one breaker call is one file upload, its parts and retries included */
    dp_breaker_state_t b0 = dp_breaker_state(&a->breaker);
    int guarded = 0;
    if (!err) {
        if (dp_breaker_allow(&a->breaker, dp_mono_ms()))
            guarded = 1;
        else
            err = dp_seterr(errstr, sizeof errstr, DP_ERR_S3_RETRY, "s3 circuit breaker is open");
    }
    if (!err) err = pqt_writer_finish(f->w, keys, vals, 4, errstr, sizeof errstr);
    uint64_t bytes = pqt_writer_bytes_written(f->w);
    if (!err) {
        err = s3_upload_commit(f->up, errstr, sizeof errstr);
        f->up = NULL; /* commit frees the upload, whatever its outcome */
    } /* else file_drop aborts it */
    if (guarded) {
        /* S3 answered a create-only write that the key exists: S3 is fine */
        dp_breaker_record(&a->breaker, !err || err == DP_ERR_EXISTS, dp_mono_ms());
        breaker_note(a, b0);
    }
    if (err == DP_ERR_EXISTS) {
        err = adopt(a, p, f, errstr, sizeof errstr);
        if (!err) {
            file_drop(f);
            return DP_OK;
        }
    }
    archive_metrics_upload(a->met, !err, f->rows, bytes, dp_mono_us() - t0);
    if (err) {
        dp_error(MOD, "upload of \"%s\" failed: %s; re-reading \"%s\" [%d] from offset %lld",
                 f->key, errstr, p->topic, p->partition, (long long)f->start_offset);
        seek_back(a, p, f->start_offset);
        file_drop(f);
        a->fail_backoff = a->fail_backoff ? a->fail_backoff * 2 : 1;
        if (a->fail_backoff > 30) a->fail_backoff = 30;
        a->pause_until_us = dp_mono_us() + (int64_t)a->fail_backoff * 1000000;
        return err;
    }
    a->fail_backoff = 0;
    a->files++;
    a->bytes += bytes;
    dp_debug(MOD, "uploaded \"%s\": %llu rows, %llu bytes in %lld ms", f->key,
             (unsigned long long)f->rows, (unsigned long long)bytes,
             (long long)((dp_mono_us() - t0) / 1000));
    file_drop(f);
    commit_part(a, p, p->last_seen + 1);
    return DP_OK;
}

/* on_dlq_delivery: the dead-letter producer's acknowledgement */
static void on_dlq_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    archive_t *a = opaque;
    if (m->err) a->dlq_err = m->err;
}

/* to_dlq: write m to the dead-letter topic with Connect's context headers
 * and wait (bounded) until Kafka acknowledged it: a dead-lettered record
 * counts as handled only then. A failure says why in errstr; the caller
 * holds the partition at m. */
static dp_err_t to_dlq(archive_t *a, const rd_kafka_message_t *m, const char *cls, const char *msg,
                       char *errstr, size_t n) {
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, "__connect.errors.topic", -1, topic, -1);
    rd_kafka_header_add(h, "__connect.errors.partition", -1, part, -1);
    rd_kafka_header_add(h, "__connect.errors.offset", -1, off, -1);
    rd_kafka_header_add(h, "__connect.errors.exception.class.name", -1, cls, -1);
    rd_kafka_header_add(h, "__connect.errors.exception.message", -1, msg, -1);
    a->dlq_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t e;
    do {
        e = rd_kafka_producev(
            a->dlq, RD_KAFKA_V_TOPIC(a->s.dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(a->dlq, 100);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stop_requested);
    if (e) {
        rd_kafka_headers_destroy(h);
        return dp_seterr(errstr, n, DP_ERR_KAFKA, "dead-letter topic \"%s\" refused the record: %s",
                         a->s.dlq_topic, rd_kafka_err2str(e));
    }
    /* message.timeout.ms of the dead-letter producer bounds this wait */
    if (rd_kafka_flush(a->dlq, DLQ_WAIT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return dp_seterr(errstr, n, DP_ERR_KAFKA,
                         "dead-letter topic \"%s\": no acknowledgement "
                         "within %d s",
                         a->s.dlq_topic, DLQ_WAIT_MS / 1000);
    if (a->dlq_err)
        return dp_seterr(errstr, n, DP_ERR_KAFKA,
                         "dead-letter topic \"%s\" did not take the "
                         "record: %s",
                         a->s.dlq_topic, rd_kafka_err2str(a->dlq_err));
    a->dlq_count++;
    return DP_OK;
}

/* hold: p stops at m, which cannot be handled now (its dead-letter write
 * failed, the schema registry is away): nothing past it is read or
 * committed, the other partitions go on, and m is read again after the
 * retry policy's backoff (on_timer). */
static void hold(archive_t *a, part_t *p, const rd_kafka_message_t *m, const char *why) {
    long d = halt(a, p);
    dp_error(MOD,
             "record at \"%s\" [%d] offset %lld: %s (the partition waits at it, nothing "
             "past it is committed; trying again in %ld ms)",
             p->topic, p->partition, (long long)m->offset, why, d);
}

/* dead_letter: hand m of p to the dead-letter topic, or hold p at m */
static void dead_letter(archive_t *a, part_t *p, const rd_kafka_message_t *m, const char *cls,
                        const char *msg) {
    char err[512];
    if (to_dlq(a, m, cls, msg, err, sizeof err)) {
        hold(a, p, m, err);
        return;
    }
    dp_retry_ok(&p->retry);
    p->last_seen = m->offset;
    if (p->f) p->f->end_offset = m->offset;
}

static void put_span(pqt_writer_t *w, size_t col, const arc_span_t *s, char *errstr, size_t n) {
    if (s->null)
        pqt_write_null(w, col, errstr, n);
    else
        pqt_write_bytes(w, col, s->p, s->len, errstr, n);
}

static void bound_memory(archive_t *a, size_t consumed);

/* write_row: the parsed row (a->row) of m into p's open file. A failure
 * of the writer is one of the upload (its row groups stream into it): the
 * file is dropped and the partition read again from the file's start;
 * returns 1 then, else 0. */
static int write_row(archive_t *a, part_t *p, const rd_kafka_message_t *m, const char *topic) {
    char errstr[1024];
    pqt_writer_t *w = p->f->w;
    arc_row_t *r = &a->row;
    if (r->ts_null)
        pqt_write_null(w, ARC_COL_EVENT_TIMESTAMP, errstr, sizeof errstr);
    else
        pqt_write_int64(w, ARC_COL_EVENT_TIMESTAMP, r->event_ts_ms, errstr, sizeof errstr);
    put_span(w, ARC_COL_OPERATION_TYPE, &r->op, errstr, sizeof errstr);
    put_span(w, ARC_COL_TABLE_NAME, &r->table, errstr, sizeof errstr);
    put_span(w, ARC_COL_CONNECTOR_VERSION, &r->version, errstr, sizeof errstr);
    put_span(w, ARC_COL_DATABASE_NAME, &r->db, errstr, sizeof errstr);
    put_span(w, ARC_COL_SCHEMA_NAME, &r->schema, errstr, sizeof errstr);
    if (r->txid_null)
        pqt_write_null(w, ARC_COL_TRANSACTION_ID, errstr, sizeof errstr);
    else
        pqt_write_int64(w, ARC_COL_TRANSACTION_ID, r->txid, errstr, sizeof errstr);
    if (r->lsn_null)
        pqt_write_null(w, ARC_COL_LSN, errstr, sizeof errstr);
    else
        pqt_write_int64(w, ARC_COL_LSN, r->lsn, errstr, sizeof errstr);
    put_span(w, ARC_COL_BEFORE_DATA, &r->before, errstr, sizeof errstr);
    put_span(w, ARC_COL_AFTER_DATA, &r->after, errstr, sizeof errstr);
    pqt_write_bytes(w, ARC_COL_KAFKA_TOPIC, topic, strlen(topic), errstr, sizeof errstr);
    pqt_write_int32(w, ARC_COL_KAFKA_PARTITION, m->partition, errstr, sizeof errstr);
    pqt_write_int64(w, ARC_COL_KAFKA_OFFSET, m->offset, errstr, sizeof errstr);
    dp_err_t err = pqt_end_row(w, errstr, sizeof errstr);
    if (err) {
        /* the row group flush streams into the upload: treat as upload error */
        dp_error(MOD, "writing \"%s\": %s", p->f->key, errstr);
        if (err == DP_ERR_S3 || err == DP_ERR_S3_RETRY) {
            dp_breaker_state_t b0 = dp_breaker_state(&a->breaker);
            dp_breaker_record(&a->breaker, 0, dp_mono_ms());
            breaker_note(a, b0);
        }
        int64_t start = p->f->start_offset;
        file_drop(p->f);
        p->f = NULL;
        seek_back(a, p, start);
        archive_metrics_upload(a->met, 0, 0, 0, 0);
        return 1;
    }
    return 0;
}

/* on_message: one consumed record. Returns non-zero to stop. */
/* rejected: a record that cannot be archived (why), as Kafka Connect's
 * error handler treats it: reported to the dead-letter topic when there
 * is one, then with errors.tolerance=all skipped (DP_OK), with none the
 * end of the task (err: nothing past it is committed) */
static dp_err_t rejected(archive_t *a, part_t *p, const rd_kafka_message_t *m, const char *cls,
                         const char *why, dp_err_t err) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (a->s.errors_tolerance == ARC_TOLERATE_ALL) {
        dp_warn(MOD, "record at \"%s\" [%d] offset %lld to dead-letter topic \"%s\": %s", topic,
                m->partition, (long long)m->offset, a->s.dlq_topic, why);
        dead_letter(a, p, m, cls, why);
        return DP_OK;
    }
    char derr[512];
    if (a->dlq && to_dlq(a, m, cls, why, derr, sizeof derr)) dp_warn(MOD, "%s", derr);
    dp_error(MOD,
             "record at \"%s\" [%d] offset %lld: %s (errors.tolerance=none: stopping; nothing past "
             "it is committed%s)",
             topic, m->partition, (long long)m->offset, why,
             a->dlq ? "; the record is in the dead-letter topic too" : "");
    return err;
}

static dp_err_t on_message(archive_t *a, const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    part_t *p = get_part(a, topic, m->partition, 1);
    if (m->offset <= p->last_seen) return DP_OK; /* after a seek-back race */
    if (p->halted) return DP_OK; /* fetched before the pause: read again on resume */
    p->eof = 0;
    a->records++;
    char errstr[1024];
    if (!m->payload) {
        a->tombstones++;
        if (a->s.behavior_on_null_values == ARC_NULL_FAIL) {
            dp_error(MOD,
                     "null value (tombstone) at \"%s\" [%d] offset %lld and "
                     "behavior.on.null.values=fail",
                     topic, m->partition, (long long)m->offset);
            return DP_ERR_INVALID;
        }
        p->last_seen = m->offset;
        if (p->f) p->f->end_offset = m->offset;
        return DP_OK;
    }
    dp_err_t err;
    if (m->len > (size_t)a->s.max_record_bytes) {
        snprintf(errstr, sizeof errstr,
                 "record of %zu bytes is larger than datapipe.max.record.bytes", m->len);
        err = DP_ERR_INVALID;
    } else {
        const char *v;
        size_t vl;
        /* Avro straight into the row, unless timestamp.field must be read
         * from the parsed JSON */
        int direct = a->conv && a->s.timestamp_extractor != ARC_TS_RECORD_FIELD;
        if (direct)
            err = arc_convert_row(a->conv, m->payload, m->len, &a->row, errstr, sizeof errstr);
        else
            err = arc_convert_value(a->conv, m->payload, m->len, &v, &vl, errstr, sizeof errstr);
        if (err ==
            DP_ERR_NET) { /* the registry is away: the record is fine, do not dead-letter it */
            hold(a, p, m, errstr);
            return DP_OK;
        }
        if (!err && !direct) err = arc_row_parse(&a->row, &a->json, v, vl, errstr, sizeof errstr);
    }
    if (err) return rejected(a, p, m, "io.datapipe.ConversionError", errstr, err);
    int64_t ts_ms;
    rd_kafka_timestamp_type_t tt;
    ts_ms = rd_kafka_message_timestamp(m, &tt);
    if (a->s.timestamp_extractor == ARC_TS_RECORD_FIELD) {
        if (arc_row_field_ms(&a->json, a->s.timestamp_field, &ts_ms)) {
            snprintf(errstr, sizeof errstr,
                     "field \"%s\" (timestamp.field) is missing or not a time",
                     a->s.timestamp_field);
            return rejected(a, p, m, "io.datapipe.TimestampError", errstr, DP_ERR_INVALID);
        }
    } else if (a->s.timestamp_extractor == ARC_TS_WALLCLOCK || ts_ms < 0) {
        ts_ms = dp_wall_us() / 1000;
    }
    char path[512];
    if (arc_format_path(a->s.path_format, ts_ms, a->s.partition_duration_ms, a->s.timezone, path,
                        sizeof path)) {
        dp_error(MOD, "invalid \"path.format\" \"%s\"", a->s.path_format);
        return DP_ERR_CONFIG;
    }
    if (p->f && strcmp(p->f->path, path) != 0) {
        /* m belongs to another time path: the file closes first. If that
         * close re-read the partition (a failed upload, or an adopted object
         * that ends before the file did) or covered m already, m comes
         * again: taking it now would put it before the records re-read */
        int64_t before = p->last_seen;
        if (file_close(a, p) || p->last_seen < before || m->offset <= p->last_seen) return DP_OK;
    }
    if (!p->f && file_open(a, p, path, m->offset, errstr, sizeof errstr)) {
        dp_error(MOD, "%s", errstr);
        return DP_ERR_INVALID;
    }
    if (write_row(a, p, m, topic)) return DP_OK; /* the file was dropped: read again */
    p->f->rows++;
    p->f->end_offset = m->offset;
    p->last_seen = m->offset;
    if (p->retry.failures) dp_retry_ok(&p->retry); /* whatever held it is over */
    a->rows++;
    if ((long long)p->f->rows >= a->s.flush_size)
        file_close(a, p);
    else
        bound_memory(a, m->len);
    return DP_OK;
}

/* file_mem: bytes an open file holds: the row data buffered in its writer
 * plus its upload's part buffer, which is allocated whole and becomes
 * resident as it fills, so it counts with what was written, up to a part. */
static uint64_t file_mem(const archive_t *a, const open_file_t *f) {
    uint64_t up = pqt_writer_bytes_written(f->w);
    if (up > (uint64_t)a->s.s3_part_size) up = (uint64_t)a->s.s3_part_size;
    return (uint64_t)pqt_writer_buffered_bytes(f->w) + up;
}

/* bound_memory: while the open files together hold more than
 * datapipe.max.buffer.bytes, close (upload and commit) the largest one.
 * The sum is taken again after each max.buffer.bytes/32 bytes of records,
 * so between checks it overshoots by about that much at most. An early
 * close is an ordinary file boundary: exactly-once does not depend on
 * where files end (see file_close). */
static void bound_memory(archive_t *a, size_t consumed) {
    a->unchecked += consumed;
    if (a->unchecked < (uint64_t)a->s.max_buffer_bytes / 32) return;
    a->unchecked = 0;
    for (;;) {
        uint64_t total = 0, biggest = 0;
        part_t *victim = NULL;
        for (size_t i = 0; i < a->nparts; i++) {
            if (!a->parts[i].f) continue;
            uint64_t b = file_mem(a, a->parts[i].f);
            total += b;
            if (b > biggest) biggest = b, victim = &a->parts[i];
        }
        if (total <= (uint64_t)a->s.max_buffer_bytes || !victim) return;
        dp_debug(MOD,
                 "open files hold %llu bytes, above datapipe.max.buffer.bytes: closing \"%s\" "
                 "(%llu bytes) early",
                 (unsigned long long)total, victim->f->key, (unsigned long long)biggest);
        file_close(a, victim);
    }
}

/* on_timer: rotation by age and by wall-clock schedule, commits of
 * tombstone-only progress, and halted partitions whose retry is due (now:
 * dp_mono_us) */
static void on_timer(archive_t *a, int64_t now) {
    int64_t wall_ms = dp_wall_us() / 1000;
    for (size_t i = 0; i < a->nparts; i++) {
        part_t *p = &a->parts[i];
        if (p->halted && dp_retry_due(&p->retry, dp_mono_ms())) {
            p->halted = 0;
            set_paused(a, p, 0);
            seek_back(a, p, p->last_seen + 1);
        }
        if (p->f) {
            int64_t age_ms = (now - p->f->opened_us) / 1000;
            long long sched = a->s.rotate_schedule_interval_ms;
            if ((a->s.rotate_interval_ms > 0 && age_ms >= a->s.rotate_interval_ms) ||
                (sched > 0 && p->f->opened_wall_ms / sched != wall_ms / sched))
                file_close(a, p);
        } else if (p->last_seen >= 0 && p->last_seen + 1 > p->committed) {
            commit_part(a, p, p->last_seen + 1);
        }
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    archive_t *a = opaque;
    /* kafka.partition.assignment.strategy=cooperative-sticky hands over and
     * takes back only the partitions that move */
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    a->rebalanced_ms = dp_mono_ms();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        a->assigned = 1;
        if (a->kafka_refused && !a->kafka_down) archive_metrics_kafka(a->met, 1, NULL);
        a->kafka_refused = 0;
        for (int i = 0; i < parts->cnt; i++)
            dp_info(MOD, "assigned \"%s\" [%d]", parts->elems[i].topic, parts->elems[i].partition);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                dp_error(MOD, "incremental assign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        return;
    }
    /* revoked: drop open files; the next owner re-reads from the commit */
    for (int i = 0; i < parts->cnt; i++) {
        part_t *p = get_part(a, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (!p) continue;
        file_drop(p->f);
        p->f = NULL;
        p->last_seen = -1;
        p->committed = -1;
        p->uncommitted = -1;
        p->eof = 0;
        if (p->halted) set_paused(a, p, 0);
        p->halted = 0;
        dp_retry_ok(&p->retry);
    }
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            dp_error(MOD, "incremental unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* on_kafka_error: error events of the task's consumer and dead-letter
 * producer, served by their polls in the task's thread. The cluster
 * unreachable or refusing us turns /health 503 until a metadata request
 * succeeds again (probe_kafka); librdkafka reconnects on its own. */
static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    archive_t *a = opaque;
    char why[512];
    kfk_describe(err, reason, why, sizeof why);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        dp_error(MOD, "kafka: fatal error: %s", fatal);
        a->kafka_fatal = 1;
        return;
    }
    if (!kfk_unreachable(err)) {
        dp_warn(MOD, "kafka: %s", why);
        return;
    }
    if (!a->kafka_down) dp_warn(MOD, "kafka: %s", why);
    a->kafka_down = 1;
    a->next_probe_us = dp_mono_us() + 2000000;
    char health[600];
    snprintf(health, sizeof health, "Kafka unreachable: %s", why);
    archive_metrics_kafka(a->met, 0, health);
}

/* refused: Kafka does not let our principal use the group or a topic; a
 * grant heals it without a restart (health 503 until the next assignment) */
static void refused(archive_t *a, const char *reason) {
    char why[700];
    snprintf(why, sizeof why,
             "Kafka refused access: %s (grant this principal Read and Describe on the group "
             "\"connect-%s\" and on the topics it archives)",
             reason, a->s.name);
    if (!a->kafka_refused) dp_error(MOD, "%s", why);
    a->kafka_refused = 1;
    archive_metrics_kafka(a->met, 0, why);
}

/* probe_kafka: while the cluster is down, ask it for metadata every few
 * seconds (a bounded wait); an answer makes the task healthy again */
static void probe_kafka(archive_t *a, int64_t now) {
    if (!a->kafka_down || now < a->next_probe_us) return;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(a->rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        a->kafka_down = 0;
        if (!a->kafka_refused) archive_metrics_kafka(a->met, 1, NULL);
        dp_info(MOD, "kafka: reachable again");
    }
    a->next_probe_us = dp_mono_us() + 3000000;
}

/* prefetch_bytes: librdkafka's prefetch queue for a task whose share of
 * datapipe.max.buffer.bytes is share */
static long long prefetch_bytes(long long share) {
    long long pf = share / 8;
    if (pf < 256 * 1024) pf = 256 * 1024;
    if (pf > 8 * 1024 * 1024) pf = 8 * 1024 * 1024;
    return pf;
}

static dp_err_t archive_setup(archive_t *a, char *errstr, size_t n) {
    archive_settings_t *s = &a->s;
    if (dp_log_set_level_name(s->svc.log_level) < 0) return DP_ERR_CONFIG;
    dp_err_t cerr = arc_convert_new(s, &a->conv, errstr, n); /* convert.c */
    if (cerr) return cerr;
    static const char *const exts[] = {".parquet", ".snappy.parquet", ".gz.parquet",
                                       ".zstd.parquet"};
    a->ext = exts[s->parquet_codec];

    s3_client_t *client = NULL;
    dp_err_t err = archive_s3_client_ex(s, (int)s->s3_retries, &client, &a->creds, errstr, n);
    if (err) return err;
    a->s3 = client;
    dp_breaker_init(&a->breaker, NULL, NULL, 0);
    archive_metrics_breaker(a->met, a->task, 0);

    char group[600], client_id[600], prefetch_kb[24], fetch_max[24];
    snprintf(group, sizeof group, "connect-%s", s->name);
    if (a->ntasks > 1)
        snprintf(client_id, sizeof client_id, "%s-%d", s->name, a->task);
    else
        snprintf(client_id, sizeof client_id, "%s", s->name);
    /* the prefetch queue is part of the memory bound: an eighth of this
     * task's share, 256 KiB to 8 MiB (librdkafka's 64 MiB default
     * dominated RSS), and no fetch response larger than it */
    long long pf = a->prefetch;
    snprintf(prefetch_kb, sizeof prefetch_kb, "%lld", pf / 1024);
    snprintf(fetch_max, sizeof fetch_max, "%lld", pf < 1048576 ? 1048576 : pf);
    /* topics for new tables appear while we run: look for them every 10 s */
    const char *defaults[] = {"group.id", group, "client.id", client_id, "auto.offset.reset",
                              "earliest", "isolation.level", "read_committed",
                              "topic.metadata.refresh.interval.ms", "10000",
                              "queued.max.messages.kbytes", prefetch_kb,
                              /* the drain's "caught up": offsets are not dense (transaction
                               * markers), so the end is where the broker says it is */
                              "enable.partition.eof", "true", "fetch.max.bytes", fetch_max,
                              /* a member that died (kill -9, a node lost) gives its partitions
                               * up after 10 s, not the client default 45 s: the loop never
                               * stalls long (no GC), so a short session is safe */
                              "session.timeout.ms", "10000", "heartbeat.interval.ms", "3000", NULL};
    const char *forced[] = {"enable.auto.commit", "false", "enable.auto.offset.store", "false",
                            NULL};
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, forced, &s->svc.kafka, errstr, n);
    if (!conf) return DP_ERR_CONFIG;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_opaque(conf, a);
    if (!(a->rk = kfk_new(RD_KAFKA_CONSUMER, conf, "consumer", errstr, n))) return DP_ERR_KAFKA;
    rd_kafka_poll_set_consumer(a->rk);
    if (*s->dlq_topic) {
        const char *pdef[] = {"client.id", client_id, "message.timeout.ms", DLQ_TIMEOUT_MS, NULL};
        const char *pforced[] = {"enable.idempotence", "true", "acks", "all", NULL};
        rd_kafka_conf_t *pc = kfk_conf_new(pdef, pforced, &s->svc.kafka, errstr, n);
        if (!pc) return DP_ERR_CONFIG;
        rd_kafka_conf_set_dr_msg_cb(pc, on_dlq_delivery);
        rd_kafka_conf_set_error_cb(pc, on_kafka_error);
        rd_kafka_conf_set_opaque(pc, a);
        if (!(a->dlq = kfk_new(RD_KAFKA_PRODUCER, pc, "dead-letter producer", errstr, n)))
            return DP_ERR_KAFKA;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(4);
    if (s->topics_regex) {
        char re[1200];
        snprintf(re, sizeof re, "^(%s)$", s->topics_regex);
        rd_kafka_topic_partition_list_add(sub, re, RD_KAFKA_PARTITION_UA);
    } else {
        char *copy = dp_xstrdup(s->topics), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            if (*t) rd_kafka_topic_partition_list_add(sub, t, RD_KAFKA_PARTITION_UA);
        }
        free(copy);
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(a->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) return dp_seterr(errstr, n, DP_ERR_KAFKA, "subscribe: %s", rd_kafka_err2str(e));
    dp_buf_init(&a->row.scratch, (size_t)s->max_record_bytes);
    return DP_OK;
}

dp_err_t archive_s3_client(const archive_settings_t *s, int max_retries, s3_client_t **out,
                           char *errstr, size_t n) {
    s3_credentials_t creds;
    dp_err_t err = archive_s3_client_ex(s, max_retries, out, &creds, errstr, n);
    s3_credentials_fini(&creds);
    return err;
}

/* s3_config_of: the S3 client configuration the archive settings describe */
static void s3_config_of(const archive_settings_t *s, int max_retries, s3_config_t *sc) {
    memset(sc, 0, sizeof *sc);
    sc->endpoint = s->store_url;
    sc->region = s->s3_region;
    sc->bucket = s->s3_bucket;
    sc->access_key = s->aws_access_key_id;
    sc->secret_key = s->aws_secret_access_key;
    sc->path_style = s->path_style;
    sc->part_size = (size_t)s->s3_part_size;
    sc->sse = *s->ssea_name ? s->ssea_name : NULL;
    sc->kms_key_id = s->sse_kms_key_id;
    sc->max_retries = max_retries;
    sc->retry_backoff_ms = s->s3_retry_backoff_ms;
    sc->create_only = s->s3_create_only;
    sc->ca_file = s->s3_ca_location ? s->s3_ca_location : getenv("AWS_CA_BUNDLE");
}

dp_err_t archive_s3_client_ex(const archive_settings_t *s, int max_retries, s3_client_t **out,
                              s3_credentials_t *creds, char *errstr, size_t n) {
    s3_config_t sc;
    s3_config_of(s, max_retries, &sc);
    dp_err_t err = s3_credentials_resolve(&sc, creds, errstr, n);
    if (!err) {
        *out = s3_client_new(&sc, errstr, n);
        if (!*out) err = DP_ERR_CONFIG;
    }
    return err;
}

/* refresh_credentials: temporary credentials (web identity) are fetched
 * again before they expire and swapped into the client */
static void refresh_credentials(archive_t *a) {
    int64_t mono = dp_mono_ms();
    if (mono < a->next_cred_check_ms) return;
    a->next_cred_check_ms = mono + 30000;
    if (!s3_credentials_refresh_due(&a->creds, dp_wall_us() / 1000)) return;
    char errstr[512];
    s3_config_t sc;
    s3_config_of(&a->s, (int)a->s.s3_retries, &sc);
    s3_credentials_t fresh;
    dp_err_t err = s3_credentials_resolve(&sc, &fresh, errstr, sizeof errstr);
    if (!err)
        err = s3_client_set_credentials(a->s3, sc.access_key, sc.secret_key, sc.session_token,
                                        errstr, sizeof errstr);
    if (err) {
        dp_warn(MOD, "refreshing S3 credentials (%s): %s", fresh.source, errstr);
        s3_credentials_fini(&fresh);
        return;
    }
    s3_credentials_fini(&a->creds);
    a->creds = fresh;
    dp_info(MOD, "S3 credentials refreshed from %s", a->creds.source);
}

/* caught_up: every assigned partition consumed up to its end: the
 * consumer reported EOF there (librdkafka does once the fetch position
 * reaches the end: the last stable offset under read_committed) and no
 * record came after it. The EOF is queued behind the partition's records,
 * so every record before it went through on_message. */
/* topic_archived: topic is one this archive subscribes to */
static int topic_archived(const archive_t *a, const char *topic) {
    if (a->s.topics_regex) {
        char pat[1200];
        regex_t re;
        snprintf(pat, sizeof pat, "^(%s)$", a->s.topics_regex);
        if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) return 0;
        int m = regexec(&re, topic, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
    }
    return archive_topic_listed(a->s.topics, topic);
}

/* others_may_hold: a drain must not stop while partitions of the topics
 * may still sit with a member that died a moment ago (kill -9): it keeps
 * them until its session expires, and then a rebalance hands them on.
 * When this consumer holds every partition of the topics there is nothing
 * to wait for; otherwise it waits until the last rebalance is older than
 * the session timeout plus a margin (heartbeats, the rejoin). */
static int others_may_hold(archive_t *a, int assigned_cnt) {
    const char *st = cfg_kv_get(&a->s.svc.kafka, "session.timeout.ms");
    long long session_ms = st ? strtoll(st, NULL, 10) : 10000;
    if (dp_mono_ms() - a->rebalanced_ms >= session_ms + 8000) return 0;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(a->rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR || !md) return 1;
    int total = 0;
    for (int t = 0; t < md->topic_cnt; t++)
        if (topic_archived(a, md->topics[t].topic)) total += md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return assigned_cnt < total;
}

static int caught_up(archive_t *a) {
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(a->rk, &l) || !l) return 0;
    /* nothing assigned (more tasks than partitions, or the others hold
     * them all): done once the group has answered */
    int ok = l->cnt > 0 || a->assigned;
    for (int i = 0; ok && i < l->cnt; i++) {
        part_t *p = get_part(a, l->elems[i].topic, l->elems[i].partition, 0);
        ok = p && p->eof && !p->halted;
    }
    int cnt = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return ok && !others_may_hold(a, cnt);
}

/* s3_resumes_at: while S3 fails (a backoff after a failed upload, or the
 * circuit breaker open), when consuming may start again (dp_mono_us);
 * 0 when it may now */
static int64_t s3_resumes_at(const archive_t *a, int64_t now) {
    int64_t at = a->pause_until_us > now ? a->pause_until_us : 0;
    if (dp_breaker_state(&a->breaker) == DP_BREAKER_OPEN) {
        int64_t retry = dp_breaker_retry_at_ms(&a->breaker) * 1000;
        if (retry > now && retry > at) at = retry;
    }
    return at;
}

static void on_event(archive_t *a, rd_kafka_message_t *m, int *rc) {
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->rkt) {
            part_t *p = get_part(a, rd_kafka_topic_name(m->rkt), m->partition, 1);
            p->eof = 1;
            p->eof_offset = m->offset;
        } else if (m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
                   m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
            refused(a, rd_kafka_message_errstr(m));
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            dp_warn(MOD, "consumer: %s", rd_kafka_message_errstr(m));
        }
    } else if (on_message(a, m)) {
        *rc = 1;
        stop_requested = 1;
    }
}

/* run: one task's loop. Each turn waits once, in rd_kafka_consumer_poll
 * (or, while S3 fails and nothing may be consumed, in poll(2) on nothing)
 * until the earliest of its deadlines; then the timers that are due. */
static int run(archive_t *a) {
    int64_t now = dp_mono_us(), next_timer = 0, next_log = now + 10000000;
    int rc = 0;
    while (!stop_requested) {
        now = dp_mono_us();
        int64_t until = next_timer < next_log ? next_timer : next_log;
        if (a->next_metrics_us < until) until = a->next_metrics_us;
        if (a->kafka_down && a->next_probe_us < until) until = a->next_probe_us;
        if (drain_requested && a->next_drain_check_us < until) until = a->next_drain_check_us;
        /* a stop request is seen within 200 ms */
        int wait_ms = until <= now ? 0 : until - now > 200000 ? 200 : (int)((until - now) / 1000);
        int64_t resume = s3_resumes_at(a, now);
        rd_kafka_message_t *m = NULL;
        if (resume) {
            /* S3 failing: consume nothing until it may be tried again;
             * Kafka keeps the data */
            int64_t left = (resume - now + 999) / 1000;
            poll(NULL, 0, left < wait_ms ? (int)left : wait_ms);
        } else {
            m = rd_kafka_consumer_poll(a->rk, wait_ms);
        }
        if (!m && !resume && drain_requested && dp_mono_us() >= a->next_drain_check_us) {
            /* it asks the brokers: at most once a second */
            a->next_drain_check_us = dp_mono_us() + 1000000;
            if (caught_up(a)) {
                dp_info(MOD, "drained: every assigned partition archived up to its end");
                break;
            }
        }
        if (m) {
            on_event(a, m, &rc);
            rd_kafka_message_destroy(m);
        }
        if (a->dlq) rd_kafka_poll(a->dlq, 0);
        if (a->kafka_fatal) rc = 1, stop_requested = 1;
        now = dp_mono_us();
        probe_kafka(a, now);
        if (now >= next_timer && !resume) { /* rotation waits while S3 fails */
            refresh_credentials(a);
            on_timer(a, now);
            next_timer = now + 200000;
        }
        if (now >= a->next_metrics_us) {
            a->next_metrics_us = now + 1000000;
            archive_metrics_counts(a->met, a->records - a->met_records,
                                   a->tombstones - a->met_tombstones, a->dlq_count - a->met_dlq);
            a->met_records = a->records, a->met_tombstones = a->tombstones,
            a->met_dlq = a->dlq_count;
            for (size_t i = 0; i < a->nparts; i++)
                archive_metrics_partition(a->met, a->rk, a->parts[i].topic, a->parts[i].partition,
                                          a->parts[i].eof ? a->parts[i].eof_offset
                                              : a->parts[i].last_seen >= 0
                                              ? a->parts[i].last_seen + 1
                                              : -1);
        }
        if (now >= next_log) {
            dp_info(MOD, "records=%llu rows=%llu files=%llu bytes=%llu tombstones=%llu dlq=%llu",
                    (unsigned long long)a->records, (unsigned long long)a->rows,
                    (unsigned long long)a->files, (unsigned long long)a->bytes,
                    (unsigned long long)a->tombstones, (unsigned long long)a->dlq_count);
            next_log = now + 10000000;
        }
    }
    if (a->fatal) rc = 1;
    if (!rc) {
        /* clean stop: everything consumed goes to S3 before we leave; what
         * could not be (an upload or a commit failed, an object that cannot
         * be adopted) stays uncommitted in Kafka, and the exit status says so */
        for (size_t i = 0; i < a->nparts; i++) {
            dp_err_t err = DP_OK;
            if (a->parts[i].f)
                err = file_close(a, &a->parts[i]);
            else if (a->parts[i].last_seen >= 0)
                err = commit_part(a, &a->parts[i], a->parts[i].last_seen + 1);
            if (err || a->fatal) rc = 1;
        }
    }
    return rc;
}

/* task_main: one consumer's loop (a thread when tasks.max > 1); leaving,
 * it closes its consumer so that the group hands its partitions on */
static void *task_main(void *arg) {
    archive_t *a = arg;
    a->rc = run(a);
    dp_info(MOD, "%sstopped: records=%llu rows=%llu files=%llu bytes=%llu tombstones=%llu dlq=%llu",
            a->ntasks > 1 ? "task stopped; " : "", (unsigned long long)a->records,
            (unsigned long long)a->rows, (unsigned long long)a->files, (unsigned long long)a->bytes,
            (unsigned long long)a->tombstones, (unsigned long long)a->dlq_count);
    if (a->rc) stop_requested = 1; /* one task failing stops them all */
    rd_kafka_consumer_close(a->rk);
    return NULL;
}

static void archive_free(archive_t *a) {
    if (a->rk) rd_kafka_destroy(a->rk);
    if (a->dlq) {
        rd_kafka_flush(a->dlq, 10000);
        rd_kafka_destroy(a->dlq);
    }
    for (size_t i = 0; i < a->nparts; i++) {
        file_drop(a->parts[i].f);
        free(a->parts[i].topic);
    }
    free(a->parts);
    s3_client_destroy(a->s3);
    s3_credentials_fini(&a->creds);
    dp_json_fini(&a->json);
    dp_buf_fini(&a->row.scratch);
    arc_convert_destroy(a->conv);
}

/* archive_main: tasks.max consumers in one group, each a thread with its
 * own consumer, S3 client and open files, and an equal share of
 * datapipe.max.buffer.bytes; they share the metrics registry. */
int archive_main(int argc, char **argv) {
    archive_settings_t s;
    memset(&s, 0, sizeof s);
    int rc = cfg_load_cli(&archive_config_table, &s, argc, argv);
    if (rc < 0) return 0; /* --help */
    if (rc > 0) {
        cfg_free(&archive_config_table, &s);
        return rc;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_drain);
    signal(SIGPIPE, SIG_IGN);
    rc = archive_run(&s);
    cfg_free(&archive_config_table, &s);
    return rc;
}

int archive_run(archive_settings_t *sp) {
    const archive_settings_t s = *sp; /* shallow: the strings stay the caller's */
    char errstr[1024] = "";
    int rc = 0;
    /* path.format's time zone, once for every thread (localtime_r reads it) */
    if (strcmp(s.timezone, "UTC") != 0) {
        setenv("TZ", s.timezone, 1);
        tzset();
    }
    int ntasks = (int)s.tasks_max;
    archive_t *tasks = dp_xcalloc((size_t)ntasks, sizeof *tasks);
    archive_metrics_t *met = archive_metrics_new(&s, errstr, sizeof errstr);
    dp_err_t err = met ? DP_OK : DP_ERR_NET;
    long long share = s.max_buffer_bytes / ntasks;
    int started = 0;
    for (int i = 0; !err && i < ntasks; i++) {
        archive_t *a = &tasks[i];
        a->s = s; /* shallow: the strings stay s's */
        a->task = i, a->ntasks = ntasks, a->met = met;
        a->prefetch = prefetch_bytes(share);
        a->s.max_buffer_bytes = share - a->prefetch > share / 2 ? share - a->prefetch : share / 2;
        err = archive_setup(a, errstr, sizeof errstr);
    }
    if (err) {
        dp_error(MOD, "%s", errstr);
        rc = err == DP_ERR_CONFIG || err == DP_ERR_UNSUPPORTED ? 2 : 1;
    } else {
        dp_info(MOD, "archiving %s to s3://%s/%s/ with %d consumer%s",
                s.topics_regex ? s.topics_regex : s.topics, s.s3_bucket, s.topics_dir, ntasks,
                ntasks > 1 ? "s" : "");
        archive_metrics_ready(met);
        pthread_t th[ARCHIVE_MAX_TASKS];
        for (int i = 1; i < ntasks; i++) {
            if (pthread_create(&th[i], NULL, task_main, &tasks[i])) {
                dp_error(MOD, "cannot start consumer thread %d of %d", i, ntasks);
                stop_requested = 1;
                tasks[i].rc = 1;
                break;
            }
            started = i;
        }
        task_main(&tasks[0]);
        for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < ntasks; i++) rc |= tasks[i].rc;
    }
    for (int i = 0; i < ntasks; i++) archive_free(&tasks[i]);
    free(tasks);
    archive_metrics_destroy(met);
    return rc;
}
