/* test_capture_eos - capture's exactly-once resume, in process, against
 * librdkafka's mock cluster, fed the pgoutput bytes recorded from
 * PostgreSQL 15 (tests/unit/data/pgoutput/recorded.hex: 8 transactions on
 * public.rec_types, inserts, updates, deletes, a key change, a truncate).
 *
 * The real capture code runs from capture_setup_kafka on: the transactional
 * producer, the stored position in offset.storage.topic, the skip on
 * resume, the commits. Only PostgreSQL is replaced: the messages come from
 * the file and the catalog facts from a callback (capture_t.catalog).
 *
 *   reference  one uninterrupted run: the records a reader must see;
 *   crash      a run that commits after the 2nd transaction and in the
 *              middle of the 5th (3 of its records in), and dies there;
 *   resume     a new capture under the same name fed the whole stream from
 *              the start, as a slot whose feedback lagged resends it.
 *   refused    the coordinator fails the open transaction under capture
 *              (AddPartitionsToTxn answered UNKNOWN_PRODUCER_ID: an
 *              abortable error, so librdkafka refuses further records with
 *              ERR__STATE). Capture must stop this life with a restart
 *              asked for (a new producer heals it), confirm nothing past
 *              the last commit, and the restarted capture sends it all.
 * A read_committed reader of the topic must then see the reference's
 * records once each, in order. Every wait is bounded.
 *
 * librdkafka 2.0's mock cluster accepts transactions but neither fences a
 * producer nor hides aborted records from read_committed readers, so the
 * crash here comes right after a commit. Records of a transaction that
 * never committed are the real stack's to check
 * (tests/integration/test_0006_capture_kill.py kills capture mid-stream). */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <time.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "testlib.h"

#define MAXMSG 64
#define API_ADD_PARTITIONS_TO_TXN 24 /* Kafka's ApiKey (not in librdkafka's public headers) */
#define TOPIC_OF(prefix) prefix ".public.rec_types"

static unsigned char *msgs[MAXMSG];
static size_t lens[MAXMSG];
static unsigned long long lsns[MAXMSG];
static int nmsgs;

/* the catalog facts PostgreSQL gives for rec_types: id is its primary key */
static dp_err_t facts(capture_t *c, uint32_t relid, pgcat_facts_t *out, char *errstr, size_t n) {
    (void)c, (void)relid, (void)errstr, (void)n;
    memset(out, 0, sizeof *out);
    out->cols = dp_xcalloc(1, sizeof *out->cols);
    out->cols[0] =
        (dbz_catalog_col_t){.name = "id", .not_null = 1, .in_pk = 1, .type_name = "int4"};
    out->n = 1;
    return DP_OK;
}

static capture_t *start(const char *bootstraps, const char *name, const char *prefix) {
    capture_t *c = dp_xcalloc(1, sizeof *c);
    c->wake.fd[0] = c->wake.fd[1] = -1;
    char err[1024] = "";
    const char *kv[][2] = {{"name", name},
                           {"database.hostname", "unused"},
                           {"database.user", "unused"},
                           {"database.dbname", "unused"},
                           {"topic.prefix", prefix},
                           {"kafka.bootstrap.servers", bootstraps},
                           {"datapipe.log.level", "warn"},
                           {"kafka.transaction.timeout.ms", "10000"},
                           {"kafka.message.timeout.ms", "10000"},
                           {"datapipe.transaction.interval.ms", "60000"}};
    CHECK_EQ_INT(cfg_defaults(&capture_config_table, &c->s, err, sizeof err), DP_OK);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        CHECK_EQ_INT(cfg_set(&capture_config_table, &c->s, kv[i][0], kv[i][1], err, sizeof err),
                     DP_OK);
    CHECK_EQ_INT(cfg_finish(&capture_config_table, &c->s, err, sizeof err), DP_OK);
    c->catalog = facts;
    dp_err_t e = capture_setup_kafka(c, err, sizeof err);
    if (e) fprintf(stderr, "capture_setup_kafka: %s\n", err);
    CHECK_EQ_INT(e, DP_OK);
    c->streaming = 1; /* past any snapshot: positions are stored */
    return c;
}

/* feed: messages [from, to) as the replication stream would hand them */
static void feed(capture_t *c, int from, int to) {
    char err[1024] = "";
    for (int i = from; i < to; i++) {
        dp_err_t e = capture_on_xlogdata(c, msgs[i], lens[i], lsns[i], err, sizeof err);
        if (e) fprintf(stderr, "message %d: %s\n", i, err);
        CHECK_EQ_INT(e, DP_OK);
        capture_serve(c, 0);
    }
}

static void commit(capture_t *c) {
    char err[1024] = "";
    dp_err_t e = capture_eos_flush(c, err, sizeof err);
    if (e) fprintf(stderr, "commit: %s\n", err);
    CHECK_EQ_INT(e, DP_OK);
}

/* one record as a reader tells them apart: key, op and source LSN (the
 * ts_ms fields differ between runs) */
typedef struct rec {
    char id[256];
} rec_t;

static void describe(const rd_kafka_message_t *m, rec_t *r) {
    char k[1024] = "", v[8192] = "";
    memcpy(k, m->key ? m->key : "", m->key_len < sizeof k - 1 ? m->key_len : sizeof k - 1);
    memcpy(v, m->payload ? m->payload : "", m->len < sizeof v - 1 ? m->len : sizeof v - 1);
    const char *key = strstr(k, "\"payload\":"), *op = strstr(v, "\"op\":\""),
               *lsn = strstr(v, "\"lsn\":");
    snprintf(r->id, sizeof r->id, "key=%s op=%.1s lsn=%llu", key ? key : "-", op ? op + 6 : "-",
             lsn ? strtoull(lsn + 6, NULL, 10) : 0ULL);
}

/* read_committed: every record of topic a reader sees, up to its end */
static size_t read_topic(const char *bootstraps, const char *topic, rec_t *out, size_t max) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstraps},
                           {"group.id", "test-reader"},
                           {"isolation.level", "read_committed"},
                           {"enable.partition.eof", "true"},
                           {"enable.auto.commit", "false"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        CHECK_EQ_INT(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    CHECK(rk != NULL);
    if (!rk) return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    int eof = 0;
    for (int64_t deadline = dp_mono_ms() + 20000; !eof && dp_mono_ms() < deadline;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = 1;
        else if (m->err)
            fprintf(stderr, "reader: %s\n", rd_kafka_message_errstr(m));
        else if (n < max)
            describe(m, &out[n++]);
        rd_kafka_message_destroy(m);
    }
    CHECK(eof);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* the index of the message after the n-th Commit */
static int after_commit(int n) {
    for (int i = 0; i < nmsgs; i++)
        if (msgs[i][0] == 'C' && --n == 0) return i + 1;
    return nmsgs;
}

/* feed_until_refused: messages from 0 on, 50 ms apart, until capture
 * refuses one; its index, or -1. Nothing polls librdkafka in between, so
 * the transaction's failure reaches capture as a refused record (as under
 * load), not as the delivery reports of the records it purged. */
static int feed_until_refused(capture_t *c, char *err, size_t n) {
    for (int i = 0; i < nmsgs; i++) {
        if (capture_on_xlogdata(c, msgs[i], lens[i], lsns[i], err, n)) return i;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return -1;
}

/* expect_same: the reader sees want[0..nwant) in topic, once each, in order */
static void expect_same(const char *bs, const char *topic, const rec_t *want, size_t nwant) {
    rec_t got[64];
    size_t ngot = read_topic(bs, topic, got, 64);
    CHECK_EQ_INT(ngot, nwant);
    for (size_t i = 0; i < ngot && i < nwant; i++) {
        if (strcmp(got[i].id, want[i].id))
            fprintf(stderr, "%s record %zu: %s, expected %s\n", topic, i, got[i].id, want[i].id);
        CHECK_EQ_STR(got[i].id, want[i].id);
    }
}

int main(void) {
    dp_log_set_level_name("warn");
    nmsgs = tl_load_hex("tests/unit/data/pgoutput/recorded.hex", msgs, lens, lsns, MAXMSG);
    CHECK_EQ_INT(nmsgs, 27);
    char err[512];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 3);
    CHECK(mc != NULL);
    if (!mc) return tl_finish("capture_eos");
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, TOPIC_OF("ref"), 1, 3), 0);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, TOPIC_OF("srv"), 1, 3), 0);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, "datapipe-offsets", 1, 3), 0);

    /* reference: the whole stream, one run */
    capture_t *ref = start(bs, "ref", "ref");
    feed(ref, 0, nmsgs);
    commit(ref);
    capture_free(ref);
    free(ref);
    rec_t want[64], got[64];
    size_t nwant = read_topic(bs, TOPIC_OF("ref"), want, 64);
    /* c, c, u, d + tombstone, key change (d, tombstone, c), u, d + tombstone */
    CHECK_EQ_INT(nwant, 11);

    /* crash: commits after the 2nd transaction and inside the 5th */
    int t5 = after_commit(4); /* Begin of the 5th */
    CHECK_EQ_INT(msgs[t5][0], 'B');
    CHECK_EQ_INT(msgs[t5 + 1][0], 'U'); /* the key change: 3 records */
    capture_t *c = start(bs, "srv", "srv");
    feed(c, 0, after_commit(2));
    commit(c);
    feed(c, after_commit(2), t5 + 2);
    commit(c); /* stored: the 5th transaction, 3 records, not complete */
    CHECK(c->acks.open); /* inside the 5th transaction */
    capture_free(c); /* dies */
    free(c);
    size_t ncrash = read_topic(bs, TOPIC_OF("srv"), got, 64);
    CHECK_EQ_INT(ncrash, 1 + 1 + 1 + 2 + 3);

    /* resume: the same name, the whole stream again */
    c = start(bs, "srv", "srv");
    CHECK(c->resume.valid);
    CHECK(!c->resume.complete);
    CHECK_EQ_INT(c->resume.records, 3);
    feed(c, 0, nmsgs);
    CHECK_EQ_INT(c->skipped, 8); /* what Kafka held: 1 + 1 + 1 + 2 + 3 */
    commit(c);
    capture_free(c);
    free(c);
    expect_same(bs, TOPIC_OF("srv"), want, nwant);

    /* refused: the open transaction fails under capture */
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, TOPIC_OF("bad"), 1, 3), 0);
    c = start(bs, "bad", "bad");
    rd_kafka_mock_push_request_errors(mc, API_ADD_PARTITIONS_TO_TXN, 1,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    char why[1024] = "";
    int at = feed_until_refused(c, why, sizeof why);
    CHECK(at >= 0);
    fprintf(stderr, "refused at message %d: %s\n", at, why);
    CHECK(strstr(why, "kafka transaction") != NULL);
    CHECK(c->restart); /* a new producer heals it */
    CHECK_EQ_INT(c->ktx.state, EOS_FAILED);
    CHECK_EQ_INT(capture_eos_safe_seq(c), 0); /* nothing may be confirmed */
    /* the records the abort purged report back: the failure on record
     * stays the transaction's */
    for (int k = 0; k < 10; k++) capture_serve(c, 20);
    CHECK(!c->delivery_failed);
    CHECK(c->restart);
    capture_free(c);
    free(c);
    /* fenced (a fatal error: not aborted, the new producer fences it) */
    c = start(bs, "bad", "bad");
    rd_kafka_mock_push_request_errors(mc, API_ADD_PARTITIONS_TO_TXN, 1,
                                      RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
    at = feed_until_refused(c, why, sizeof why);
    CHECK(at >= 0);
    fprintf(stderr, "refused at message %d: %s\n", at, why);
    CHECK(strstr(why, "fatal") != NULL);
    CHECK(c->restart);
    CHECK_EQ_INT(c->ktx.state, EOS_FAILED);
    CHECK_EQ_INT(capture_eos_safe_seq(c), 0);
    capture_free(c);
    free(c);
    c = start(bs, "bad", "bad"); /* the restart */
    feed(c, 0, nmsgs);
    commit(c);
    capture_free(c);
    free(c);
    expect_same(bs, TOPIC_OF("bad"), want, nwant);

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
    for (int i = 0; i < nmsgs; i++) free(msgs[i]);
    return tl_finish("capture_eos");
}
