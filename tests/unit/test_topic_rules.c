/* test_topic_rules - the topic.creation.* keys (KIP-158) through the
 * capture table and kfk_topic_rules: what turns creation on, the default
 * group's required counts, groups inheriting them, topic configs kept
 * per group, the first matching group winning, exclude over include,
 * and an error naming the key for each kind of mistake. No network. */
#include <stdlib.h>

#include "capture/capture.h"
#include "common/log.h"
#include "kafka/topics.h"
#include "testlib.h"

#define REQ                                                                                        \
    "database.hostname=h\ndatabase.user=u\ndatabase.dbname=d\ntopic.prefix=p\n"                    \
    "kafka.bootstrap.servers=k:9092\n"

static capture_settings_t s;

/* load: the properties text through the capture table and its finalize */
static dp_err_t load(const char *text, char *err, size_t n) {
    cfg_free(&capture_config_table, &s);
    memset(&s, 0, sizeof s);
    err[0] = 0;
    dp_err_t e = cfg_load_text(&capture_config_table, &s, text, strlen(text), "test", err, n);
    if (!e) e = cfg_finish(&capture_config_table, &s, err, n);
    return e;
}

/* rules: the rules of the settings just loaded */
static dp_err_t rules(kfk_topic_rules_t *r, char *err, size_t n) {
    return kfk_topic_rules_init(r, s.topic_creation_enable, s.topic_creation_groups,
                                &s.topic_creation_kv, err, n);
}

static const char *group_of(const kfk_topic_rules_t *r, const char *topic) {
    const kfk_topic_group_t *g = kfk_topic_rules_group(r, topic);
    return g ? g->name : "(none)";
}

static const char *config_of(const kfk_topic_group_t *g, const char *name) {
    for (size_t i = 0; i < g->nconfigs; i++)
        if (!strcmp(g->config_names[i], name)) return g->config_values[i];
    return NULL;
}

/* no topic.creation.* key: nothing is created (capture wants the topics
 * to exist, as before); enable defaults to true */
static void test_off_by_default(void) {
    char err[1024];
    kfk_topic_rules_t r;
    CHECK_EQ_INT(load(REQ, err, sizeof err), DP_OK);
    CHECK_EQ_INT(s.topic_creation_enable, 1);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    CHECK_EQ_INT(r.configured, 0);
    CHECK_EQ_INT(r.enabled, 0);
    CHECK(kfk_topic_rules_group(&r, "p.public.users") == NULL);
    kfk_topic_rules_fini(&r);
    kfk_topic_rules_fini(&r); /* twice is harmless */
}

/* the default group alone: counts, -1, topic configs, JSON numbers */
static void test_default_group(void) {
    char err[1024];
    kfk_topic_rules_t r;
    CHECK_EQ_INT(load(REQ "topic.creation.default.replication.factor=3\n"
                          "topic.creation.default.partitions=6\n"
                          "topic.creation.default.cleanup.policy=compact\n"
                          "topic.creation.default.retention.ms=604800000\n"
                          "topic.creation.default.compression.type=lz4\n",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    CHECK_EQ_INT(r.configured, 1);
    CHECK_EQ_INT(r.enabled, 1);
    CHECK_EQ_INT(r.ngroups, 1);
    const kfk_topic_group_t *g = kfk_topic_rules_group(&r, "p.public.users");
    CHECK(g != NULL);
    if (g) {
        CHECK_EQ_STR(g->name, "default");
        CHECK_EQ_INT(g->partitions, 6);
        CHECK_EQ_INT(g->replication_factor, 3);
        CHECK_EQ_INT(g->nconfigs, 3);
        CHECK_EQ_STR(config_of(g, "cleanup.policy"), "compact");
        CHECK_EQ_STR(config_of(g, "retention.ms"), "604800000");
        CHECK_EQ_STR(config_of(g, "compression.type"), "lz4");
        char desc[512];
        kfk_topic_group_describe(g, desc, sizeof desc);
        CHECK_EQ_STR(desc,
                     "group \"default\", partitions 6, replication factor 3, "
                     "cleanup.policy=compact, retention.ms=604800000, compression.type=lz4");
    }
    kfk_topic_rules_fini(&r);

    /* -1: the broker's default; JSON numbers as well as strings */
    CHECK_EQ_INT(load("{\"database.hostname\":\"h\",\"database.user\":\"u\",\"database.dbname\":"
                      "\"d\",\"topic.prefix\":\"p\",\"kafka.bootstrap.servers\":\"k:9092\","
                      "\"topic.creation.default.replication.factor\":-1,"
                      "\"topic.creation.default.partitions\":\"-1\"}",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    g = kfk_topic_rules_group(&r, "x");
    CHECK(g && g->partitions == -1 && g->replication_factor == -1);
    if (g) {
        char desc[512];
        kfk_topic_group_describe(g, desc, sizeof desc);
        CHECK_EQ_STR(desc,
                     "group \"default\", partitions the broker's default, replication "
                     "factor the broker's default");
    }
    kfk_topic_rules_fini(&r);

    /* topic.creation.enable=false (the worker's switch): rules checked,
     * nothing created */
    CHECK_EQ_INT(load(REQ "topic.creation.enable=false\n"
                          "topic.creation.default.replication.factor=3\n"
                          "topic.creation.default.partitions=6\n",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    CHECK_EQ_INT(r.configured, 1);
    CHECK_EQ_INT(r.enabled, 0);
    kfk_topic_rules_fini(&r);
}

/* groups: listed order decides, exclude beats include, a whole-name
 * and case-sensitive match, counts inherited from default, topic configs
 * not inherited */
static void test_groups(void) {
    char err[1024];
    kfk_topic_rules_t r;
    CHECK_EQ_INT(load(REQ "topic.creation.groups=audit, inventory ,default,audit\n"
                          "topic.creation.default.replication.factor=3\n"
                          "topic.creation.default.partitions=6\n"
                          "topic.creation.default.cleanup.policy=delete\n"
                          "topic.creation.audit.include=cdc\\.p\\.audit_.*, cdc\\.p\\.log\n"
                          "topic.creation.audit.exclude=cdc\\.p\\.audit_old.*\n"
                          "topic.creation.audit.partitions=1\n"
                          "topic.creation.audit.cleanup.policy=compact\n"
                          "topic.creation.inventory.include=cdc\\.p\\..*\n"
                          "topic.creation.inventory.replication.factor=2\n"
                          "topic.creation.inventory.retention.ms=-1\n",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    CHECK_EQ_INT(r.ngroups,
                 3); /* audit, inventory, default (listed "default" and repeats left out) */
    CHECK_EQ_STR(r.groups[0].name, "audit");
    CHECK_EQ_STR(r.groups[1].name, "inventory");
    CHECK_EQ_STR(r.groups[2].name, "default");
    /* the first listed group that takes it wins, though inventory matches too */
    CHECK_EQ_STR(group_of(&r, "cdc.p.audit_2024"), "audit");
    CHECK_EQ_STR(group_of(&r, "cdc.p.log"), "audit");
    /* excluded from audit: falls to the next group */
    CHECK_EQ_STR(group_of(&r, "cdc.p.audit_old1"), "inventory");
    CHECK_EQ_STR(group_of(&r, "cdc.p.users"), "inventory");
    /* the whole name must match, with case */
    CHECK_EQ_STR(group_of(&r, "cdc.p.login"), "inventory");
    CHECK_EQ_STR(group_of(&r, "xcdc.p.users"), "default");
    CHECK_EQ_STR(group_of(&r, "CDC.P.USERS"), "default");
    CHECK_EQ_STR(group_of(&r, "__debezium-heartbeat.p"), "default");
    const kfk_topic_group_t *a = &r.groups[0], *inv = &r.groups[1], *def = &r.groups[2];
    CHECK_EQ_INT(a->partitions, 1);
    CHECK_EQ_INT(a->replication_factor, 3); /* inherited */
    CHECK_EQ_STR(config_of(a, "cleanup.policy"), "compact");
    CHECK_EQ_INT(inv->partitions, 6); /* inherited */
    CHECK_EQ_INT(inv->replication_factor, 2);
    CHECK(config_of(inv, "cleanup.policy") == NULL); /* not inherited */
    CHECK_EQ_STR(config_of(inv, "retention.ms"), "-1");
    CHECK_EQ_INT(inv->nconfigs, 1);
    CHECK_EQ_STR(config_of(def, "cleanup.policy"), "delete");
    kfk_topic_rules_fini(&r);

    /* a group name with a dot: the longest listed name owns the key */
    CHECK_EQ_INT(load(REQ "topic.creation.groups=a,a.b\n"
                          "topic.creation.default.replication.factor=1\n"
                          "topic.creation.default.partitions=1\n"
                          "topic.creation.a.include=x\n"
                          "topic.creation.a.b.include=y\n"
                          "topic.creation.a.b.partitions=4\n",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(rules(&r, err, sizeof err), DP_OK);
    CHECK_EQ_STR(group_of(&r, "y"), "a.b");
    CHECK_EQ_INT(r.groups[1].partitions, 4);
    CHECK_EQ_INT(r.groups[0].nconfigs, 0); /* "b.include" did not land in group a */
    kfk_topic_rules_fini(&r);
}

/* expect_error: text fails to load with an error mentioning want (and,
 * when secret, never that value) */
static void expect_error(const char *text, const char *want, const char *secret) {
    char err[1024];
    CHECK_EQ_INT(load(text, err, sizeof err), DP_ERR_CONFIG);
    if (!strstr(err, want)) fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    if (secret) CHECK(strstr(err, secret) == NULL);
}

#define BOTH "topic.creation.default.replication.factor=3\ntopic.creation.default.partitions=6\n"

static void test_errors(void) {
    /* the default group's counts, once any topic.creation.* key is set */
    expect_error(REQ "topic.creation.default.partitions=6\n",
                 "\"topic.creation.default.replication.factor\"", NULL);
    expect_error(REQ "topic.creation.default.replication.factor=3\n",
                 "\"topic.creation.default.partitions\"", NULL);
    expect_error(REQ "topic.creation.default.cleanup.policy=compact\n",
                 "\"topic.creation.default.replication.factor\"", NULL);
    expect_error(REQ "topic.creation.groups=g\ntopic.creation.g.include=x\n",
                 "\"topic.creation.default.replication.factor\"", NULL);
    /* a listed group needs its include list */
    expect_error(REQ BOTH "topic.creation.groups=audit\n", "\"topic.creation.audit.include\"",
                 NULL);
    expect_error(REQ BOTH "topic.creation.groups=audit\ntopic.creation.audit.partitions=2\n",
                 "\"topic.creation.audit.include\"", NULL);
    expect_error(REQ BOTH "topic.creation.groups=audit\ntopic.creation.audit.include= ,\n",
                 "\"topic.creation.audit.include\"", NULL);
    /* counts: integers, -1 or at least 1, within librdkafka's bounds; the
     * value itself is never quoted */
    setenv("DP_TEST_PARTS", "six-secret", 1);
    expect_error(REQ "topic.creation.default.replication.factor=3\n"
                     "topic.creation.default.partitions=${env:DP_TEST_PARTS}\n",
                 "\"topic.creation.default.partitions\"", "six-secret");
    expect_error(REQ "topic.creation.default.replication.factor=3\n"
                     "topic.creation.default.partitions=0\n",
                 "\"topic.creation.default.partitions\": expected -1", NULL);
    expect_error(REQ "topic.creation.default.replication.factor=-2\n"
                     "topic.creation.default.partitions=1\n",
                 "\"topic.creation.default.replication.factor\"", NULL);
    expect_error(REQ "topic.creation.default.replication.factor=3\n"
                     "topic.creation.default.partitions=100001\n",
                 "\"topic.creation.default.partitions\"", NULL);
    expect_error(REQ "topic.creation.default.replication.factor=3.5\n"
                     "topic.creation.default.partitions=1\n",
                 "\"topic.creation.default.replication.factor\"", NULL);
    expect_error(REQ BOTH "topic.creation.groups=g\ntopic.creation.g.include=x\n"
                          "topic.creation.g.partitions=many\n",
                 "\"topic.creation.g.partitions\"", NULL);
    /* a group not listed, a bare group name, the default group's lists */
    expect_error(REQ BOTH "topic.creation.audit.include=x\n",
                 "unknown configuration key \"topic.creation.audit.include\"", NULL);
    expect_error(REQ BOTH "topic.creation.groups=audit\ntopic.creation.audit.include=x\n"
                          "topic.creation.audti.partitions=1\n",
                 "\"topic.creation.audti.partitions\"", NULL);
    expect_error(REQ BOTH "topic.creation.default=1\n",
                 "unknown configuration key \"topic.creation.default\"", NULL);
    expect_error(REQ BOTH "topic.creation.default.include=x\n",
                 "\"topic.creation.default.include\"", NULL);
    /* regular expressions */
    expect_error(REQ BOTH "topic.creation.groups=g\ntopic.creation.g.include=a(b\n",
                 "\"topic.creation.g.include\"", NULL);
    expect_error(REQ BOTH "topic.creation.groups=g\ntopic.creation.g.include=a\n"
                          "topic.creation.g.exclude=[z\n",
                 "\"topic.creation.g.exclude\"", NULL);
    expect_error(REQ "topic.creation.enable=maybe\n", "\"topic.creation.enable\"", NULL);
}

/* the keys are in the capture table's reference and --help */
static void test_documented(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print_markdown(&capture_config_table, f);
    fclose(f);
    CHECK(strstr(buf, "| `topic.creation.enable` | boolean |") != NULL);
    CHECK(strstr(buf, "| `topic.creation.groups` | string |") != NULL);
    CHECK(strstr(buf, "| `topic.creation.*` | prefix |") != NULL);
    free(buf);
}

int main(void) {
    dp_log_level = -1;
    test_off_by_default();
    test_default_group();
    test_groups();
    test_errors();
    test_documented();
    cfg_free(&capture_config_table, &s);
    return tl_finish("test_topic_rules");
}
