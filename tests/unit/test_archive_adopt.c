/* test_archive_adopt - the archive's commit and adopt logic, in process:
 * archive_run against librdkafka's mock cluster and a real S3 server
 * (versitygw, built by `make setup` into .cache/bin, started here on a
 * free loopback port; DP_VERSITYGW names another binary).
 *
 *   1. 30 records, flush.size 10: three objects, offset 30 committed;
 *   2. the commits lost (a consumer group without them, as when the
 *      archiver died between uploads and their commits), 5 more records:
 *      the three objects are adopted, not rewritten (create-only uploads
 *      meet them), one new object, offset 35 committed;
 *   3. a foreign object where the next file goes: the archive stops
 *      without committing past it and without replacing it;
 *   4. a partition's seek fails: it waits and seeks again, and the
 *      objects still cover every offset once.
 * Every wait is bounded. The integration tests run the same on the real
 * stack (test_0002_archive_exactly_once.py). */
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive/archive.h"
#include "common/clock.h"
#include "common/log.h"
#include "parquet/footer.h"
#include "s3/client.h"
#include "testlib.h"

#define ACCESS "test-access"
#define SECRET "test-secret-key"

static pid_t s3_pid;
static char root[64] = "/tmp/dp-test-s3-XXXXXX";

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &l)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* start_s3: versitygw's posix backend over root, bucket "bkt" a directory */
static int start_s3(void) {
    const char *bin = getenv("DP_VERSITYGW") ? getenv("DP_VERSITYGW") : ".cache/bin/versitygw";
    if (access(bin, X_OK)) {
        fprintf(stderr, "%s: not found (make setup builds it; DP_VERSITYGW names another)\n", bin);
        return -1;
    }
    int port = free_port();
    char dir[128], addr[64];
    if (port < 0 || !mkdtemp(root)) return -1;
    snprintf(dir, sizeof dir, "%s/bkt", root);
    mkdir(dir, 0700);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    s3_pid = fork();
    if (s3_pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        setenv("ROOT_ACCESS_KEY", ACCESS, 1);
        setenv("ROOT_SECRET_KEY", SECRET, 1);
        execl(bin, bin, "--port", addr, "--region", "us-east-1", "--quiet", "posix", root,
              (char *)NULL);
        _exit(127);
    }
    for (int64_t until = dp_mono_ms() + 15000; dp_mono_ms() < until; usleep(50000))
        if (port_open(port)) return port;
    fprintf(stderr, "versitygw did not listen on %s within 15 s\n", addr);
    return -1;
}

static void stop_s3(void) {
    if (s3_pid <= 0) return;
    kill(s3_pid, SIGTERM);
    int st;
    for (int i = 0; i < 100 && waitpid(s3_pid, &st, WNOHANG) == 0; i++) usleep(50000);
    if (waitpid(s3_pid, &st, WNOHANG) == 0) {
        kill(s3_pid, SIGKILL);
        waitpid(s3_pid, &st, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK_EQ_INT(system(cmd), 0);
}

/* produce: records [from, to) to topic, JsonConverter envelopes without
 * schemas, record times one minute apart from 2024-01-15 10:00 UTC */
static void produce(const char *bs, const char *topic, int from, int to) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    for (int i = from; i < to; i++) {
        char v[512];
        int n = snprintf(v, sizeof v,
                         "{\"before\":null,\"after\":{\"id\":%d},\"source\":{\"version\":"
                         "\"3.0.8.Final\",\"connector\":\"postgresql\",\"name\":\"p\",\"ts_ms\":"
                         "1705312800000,\"snapshot\":\"false\",\"db\":\"d\",\"schema\":\"public\","
                         "\"table\":\"users\",\"txId\":%d,\"lsn\":%d},\"op\":\"c\",\"ts_ms\":"
                         "1705312800000}",
                         i, 500 + i, 1000 + i);
        CHECK_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, (size_t)n),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_TIMESTAMP(1705312800000LL + 60000LL * i),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    CHECK_EQ_INT(rd_kafka_flush(rk, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/* group_offset: the committed offset of topic [0] of the archive named name
 * (librdkafka's mock cluster takes commits only from group members, so a
 * lost commit is a new name: group connect-<name>, the same objects) */
static int64_t group_offset(const char *bs, const char *name, const char *topic) {
    char group[64];
    snprintf(group, sizeof group, "connect-%s", name);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0);
    CHECK_EQ_INT(rd_kafka_committed(rk, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

/* the objects under prefix: key, start and end offset from the footer, and
 * the file's modification time in the server's directory */
typedef struct obj {
    char key[512];
    long long start, end;
    struct timespec mtime;
} obj_t;

typedef struct listing {
    obj_t o[16];
    int n;
} listing_t;

static dp_err_t on_key(void *ctx, const char *key, uint64_t size) {
    listing_t *l = ctx;
    (void)size;
    if (l->n < 16) snprintf(l->o[l->n++].key, sizeof l->o[0].key, "%s", key);
    return DP_OK;
}

static void list(s3_client_t *s3, const char *prefix, listing_t *l) {
    char err[512];
    memset(l, 0, sizeof *l);
    CHECK_EQ_INT(s3_list_objects(s3, prefix, on_key, l, err, sizeof err), DP_OK);
    dp_buf_t b;
    dp_buf_init(&b, 64u << 20);
    for (int i = 0; i < l->n; i++) {
        obj_t *o = &l->o[i];
        char v[32], path[700];
        size_t need;
        o->start = o->end = -1;
        dp_buf_reset(&b);
        if (s3_get_object(s3, o->key, &b, err, sizeof err) == DP_OK &&
            pqt_footer_kv(b.data, b.len, "datapipe.kafka.start.offset", v, sizeof v, &need, err,
                          sizeof err) == DP_OK)
            o->start = strtoll(v, NULL, 10);
        if (pqt_footer_kv(b.data, b.len, "datapipe.kafka.end.offset", v, sizeof v, &need, err,
                          sizeof err) == DP_OK)
            o->end = strtoll(v, NULL, 10);
        snprintf(path, sizeof path, "%s/bkt/%s", root, o->key);
        struct stat st;
        if (stat(path, &st) == 0) o->mtime = st.st_mtim;
    }
    dp_buf_fini(&b);
}

/* the objects cover offsets 0 .. end-1 once each, in flush.size pieces */
static void check_cover(const listing_t *l, long long end) {
    long long next = 0;
    for (int k = 0; k < l->n; k++)
        for (int i = 0; i < l->n; i++)
            if (l->o[i].start == next) next = l->o[i].end + 1;
    CHECK_EQ_INT(next, end);
}

/* the objects of before that are still in now were not written again */
static void check_not_rewritten(const listing_t *before, const listing_t *now) {
    for (int i = 0; i < before->n; i++)
        for (int k = 0; k < now->n; k++)
            if (!strcmp(before->o[i].key, now->o[k].key))
                CHECK(before->o[i].mtime.tv_sec == now->o[k].mtime.tv_sec &&
                      before->o[i].mtime.tv_nsec == now->o[k].mtime.tv_nsec);
}

static int run_archive(archive_settings_t *s) {
    archive_request(0, 1); /* drain: up to the end of t, then stop */
    return archive_run(s);
}

int main(void) {
    dp_log_set_level_name("error");
    int port = start_s3();
    CHECK(port > 0);
    if (port <= 0) return tl_finish("archive_adopt");
    char err[1024];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, "t", 1, 1), 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    archive_settings_t s;
    memset(&s, 0, sizeof s);
    const char *kv[][2] = {{"name", "arc"},
                           {"topics", "t"},
                           {"topics.dir", "cdc"},
                           {"s3.bucket.name", "bkt"},
                           {"s3.region", "us-east-1"},
                           {"store.url", url},
                           {"aws.access.key.id", ACCESS},
                           {"aws.secret.access.key", SECRET},
                           {"flush.size", "10"},
                           {"s3.part.retries", "1"},
                           {"datapipe.log.level", "error"},
                           {"kafka.bootstrap.servers", bs}};
    CHECK_EQ_INT(cfg_defaults(&archive_config_table, &s, err, sizeof err), DP_OK);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        CHECK_EQ_INT(cfg_set(&archive_config_table, &s, kv[i][0], kv[i][1], err, sizeof err),
                     DP_OK);
    CHECK_EQ_INT(cfg_finish(&archive_config_table, &s, err, sizeof err), DP_OK);
    s3_client_t *s3 = NULL;
    CHECK_EQ_INT(archive_s3_client(&s, 1, &s3, err, sizeof err), DP_OK);

    /* 1: three objects, all committed */
    produce(bs, "t", 0, 30);
    CHECK_EQ_INT(run_archive(&s), 0);
    CHECK_EQ_INT(group_offset(bs, "arc", "t"), 30);
    listing_t first, l;
    list(s3, "cdc/", &first);
    CHECK_EQ_INT(first.n, 3);
    check_cover(&first, 30);

    /* 2: the commits lost; the objects are adopted, one new */
    CHECK_EQ_INT(cfg_set(&archive_config_table, &s, "name", "arc2", err, sizeof err), DP_OK);
    CHECK(group_offset(bs, "arc2", "t") < 0);
    produce(bs, "t", 30, 35);
    CHECK_EQ_INT(run_archive(&s), 0);
    CHECK_EQ_INT(group_offset(bs, "arc2", "t"), 35);
    list(s3, "cdc/", &l);
    CHECK_EQ_INT(l.n, 4);
    check_cover(&l, 35);
    check_not_rewritten(&first, &l);

    /* 3: a foreign object at the next file's key: stop, commit nothing past */
    produce(bs, "t", 35, 40);
    char key[512];
    const char *plus = strrchr(l.o[0].key, '+'), *ext = plus ? strchr(plus, '.') : NULL;
    CHECK(ext != NULL); /* <path>/t+0+<offset, 10 digits><extension> */
    snprintf(key, sizeof key, "%.*s0000000035%s", plus ? (int)(plus + 1 - l.o[0].key) : 0,
             l.o[0].key, ext ? ext : "");
    /* the same time path as record 35's: its minute falls in the hour of 30..34 */
    CHECK_EQ_INT(
        s3_put_object(s3, key, "not parquet", 11, "application/octet-stream", err, sizeof err),
        DP_OK);
    CHECK_EQ_INT(run_archive(&s), 1);
    CHECK_EQ_INT(group_offset(bs, "arc2", "t"), 35);
    list(s3, "cdc/", &l);
    CHECK_EQ_INT(l.n, 5); /* the four, and the foreign one */
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    CHECK_EQ_INT(s3_get_object(s3, key, &b, err, sizeof err), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "not parquet", 11);
    dp_buf_fini(&b);

    /* 4: a seek that fails (as one can while a rebalance moves the
     * partition) waits and is tried again: nothing is lost or rewritten.
     * Five-record objects of u, then a run writing ten-record files meets
     * the first one, adopts it and must seek back to offset 5. */
    CHECK_EQ_INT(rd_kafka_mock_topic_create(mc, "u", 1, 1), 0);
    produce(bs, "u", 0, 10);
    const char *kv4[][2] = {
        {"name", "arc4"}, {"topics", "u"}, {"topics.dir", "sk"}, {"flush.size", "5"}};
    for (size_t i = 0; i < sizeof kv4 / sizeof kv4[0]; i++)
        CHECK_EQ_INT(cfg_set(&archive_config_table, &s, kv4[i][0], kv4[i][1], err, sizeof err),
                     DP_OK);
    CHECK_EQ_INT(run_archive(&s), 0);
    CHECK_EQ_INT(group_offset(bs, "arc4", "u"), 10);
    list(s3, "sk/", &first);
    CHECK_EQ_INT(first.n, 2);
    check_cover(&first, 10);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &s, "name", "arc5", err, sizeof err), DP_OK);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &s, "flush.size", "10", err, sizeof err), DP_OK);
    archive_fail_seeks(1);
    CHECK_EQ_INT(run_archive(&s), 0);
    archive_fail_seeks(0);
    CHECK_EQ_INT(group_offset(bs, "arc5", "u"), 10);
    list(s3, "sk/", &l);
    CHECK_EQ_INT(l.n, 2);
    check_cover(&l, 10);
    check_not_rewritten(&first, &l);

    s3_client_destroy(s3);
    cfg_free(&archive_config_table, &s);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
    stop_s3();
    return tl_finish("archive_adopt");
}
