/* test_topic_create - kfk_topic_ensure against Kafka in process, every
 * wait bounded:
 *  - librdkafka's mock cluster (test.mock.num.brokers=3): a topic there
 *    is found with its partitions, a missing one is reported missing
 *    without rules, and a cluster that cannot create topics (the mock
 *    has no CreateTopics, in 2.0.2 nor later) gives an error naming the
 *    topic within the bound;
 *  - a topic that shows, hides and shows again (as a new topic does while
 *    the brokers learn it) counts as created only once steadily shown;
 *  - records refused for an unknown topic or partition restart the
 *    producer.
 * Creation itself (partitions, replication factor, topic configs, the
 * group that matched) and the broker's refusals are checked on the real
 * brokers of the local stack: tests/integration/test_0023_topic_creation.py. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/log.h"
#include "kafka/kafka.h"
#include "kafka/topics.h"
#include "testlib.h"

/* ---- helpers ---- */

static rd_kafka_t *client(int mock_brokers) {
    char err[512], n[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(n, sizeof n, "%d", mock_brokers);
    rd_kafka_conf_set(conf, "test.mock.num.brokers", n, err, sizeof err);
    /* as capture and datapipe topics set it when they create topics */
    CHECK_EQ_INT(rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof err),
                 RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    CHECK(rk != NULL);
    return rk;
}

/* rules_of: rules from "key=value" pairs (keys without topic.creation.) */
static void rules_of(kfk_topic_rules_t *r, const char *groups, const char *const *kv) {
    cfg_kv_t keys = {0};
    size_t n = 0;
    while (kv[2 * n]) n++;
    char *k[32], *v[32];
    for (size_t i = 0; i < n; i++) k[i] = (char *)kv[2 * i], v[i] = (char *)kv[2 * i + 1];
    keys.keys = k;
    keys.values = v;
    keys.n = n;
    char err[512];
    dp_err_t e = kfk_topic_rules_init(r, 1, groups, &keys, err, sizeof err);
    if (e) fprintf(stderr, "rules: %s\n", err);
    CHECK_EQ_INT(e, DP_OK);
}

static int64_t ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- librdkafka's mock cluster ---- */

static void test_mock_cluster(void) {
    rd_kafka_t *rk = client(3);
    if (!rk) return;
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    CHECK(mc != NULL);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, "cdc.p.there", 6, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[1024];
    kfk_topic_outcome_t out;
    int parts;
    kfk_topic_rules_t none = {0}, r;
    static const char *const defaults[] = {"default.replication.factor", "3", "default.partitions",
                                           "3", NULL};
    rules_of(&r, "", defaults);

    /* there: found, with its partitions, nothing created */
    CHECK_EQ_INT(kfk_topic_ensure(rk, &r, "cdc.p.there", 5000, &out, &parts, err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(out, KFK_TOPIC_FOUND);
    CHECK_EQ_INT(parts, 6);
    /* missing, no rules: reported missing. The mock answers Metadata up
     * to v2, which cannot say "do not auto-create", so it is told to call
     * the topic unknown */
    rd_kafka_mock_topic_set_error(mc, "cdc.p.missing", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    CHECK_EQ_INT(kfk_topic_ensure(rk, &none, "cdc.p.missing", 5000, &out, &parts, err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(out, KFK_TOPIC_MISSING);
    /* missing with rules, on a cluster that cannot create: an error naming
     * the topic, within the bound (request and wait for the controller) */
    int64_t t0 = ms_now();
    dp_err_t e = kfk_topic_ensure(rk, &r, "cdc.p.missing", 2000, &out, &parts, err, sizeof err);
    int64_t took = ms_now() - t0;
    CHECK(e != DP_OK);
    CHECK(strstr(err, "cannot create topic \"cdc.p.missing\"") != NULL);
    CHECK(took < 2000 + 5000 + 2000);
    kfk_topic_rules_fini(&r);
    rd_kafka_destroy(rk);
}

/* a topic just created, as one broker after another learns it: shown,
 * then hidden (an answer from a broker that does not know it yet), then
 * shown for good */
typedef struct flap {
    rd_kafka_mock_cluster_t *mc;
    int64_t shown_at; /* when it was shown for good (ms_now) */
} flap_t;

static void *flapper(void *arg) {
    flap_t *f = arg;
    struct timespec ts = {0, 150000000};
    nanosleep(&ts, NULL);
    rd_kafka_mock_topic_set_error(f->mc, "cdc.p.flap", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    ts.tv_nsec = 450000000;
    nanosleep(&ts, NULL);
    rd_kafka_mock_topic_set_error(f->mc, "cdc.p.flap", RD_KAFKA_RESP_ERR_NO_ERROR);
    __atomic_store_n(&f->shown_at, ms_now(), __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_wait_steady(void) {
    rd_kafka_t *rk = client(3);
    if (!rk) return;
    flap_t f = {rd_kafka_handle_mock_cluster(rk), 0};
    CHECK_EQ_INT(rd_kafka_mock_topic_create(f.mc, "cdc.p.flap", 6, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, flapper, &f), 0);
    int parts = -1;
    CHECK_EQ_INT(kfk_topic_wait_steady(rk, "cdc.p.flap", 10000, &parts), 1);
    int64_t done = ms_now(), shown = __atomic_load_n(&f.shown_at, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    /* not before it was shown for good, and then only after the steady span */
    CHECK(shown > 0 && done - shown >= KFK_TOPIC_STEADY_MS - 100);
    CHECK_EQ_INT(parts, 6);
    /* never shown: 0 at the bound */
    rd_kafka_mock_topic_set_error(f.mc, "cdc.p.never", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    int64_t t0 = ms_now();
    CHECK_EQ_INT(kfk_topic_wait_steady(rk, "cdc.p.never", 1500, &parts), 0);
    CHECK_EQ_INT(parts, 0);
    CHECK(ms_now() - t0 >= 1500);
    rd_kafka_destroy(rk);
}

/* a record refused because its topic or partition is not known (yet) is
 * healed by a new producer, which looks the topic up again */
static void test_restart_heals(void) {
    CHECK(kfk_producer_restart_heals(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION));
    CHECK(kfk_producer_restart_heals(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    CHECK(kfk_producer_restart_heals(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    CHECK(!kfk_producer_restart_heals(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    CHECK(!kfk_producer_restart_heals(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
}

int main(void) {
    dp_log_level = -1;
    test_mock_cluster();
    test_wait_steady();
    test_restart_heals();
    return tl_finish("test_topic_create");
}
