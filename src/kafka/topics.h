/* topics.h - topic creation as Kafka Connect does it for a source
 * connector (KIP-158): the topic.creation.* rules, the group a topic
 * falls in, and creating a missing topic with the Admin API.
 *
 * The keys, without their "topic.creation." prefix:
 *   enable                          the worker's switch (default true)
 *   groups                          group names, tried in the order listed
 *   default.replication.factor      required once any topic.creation.* key
 *   default.partitions              is set; without them nothing is created
 *   default.<topic config>          e.g. cleanup.policy, retention.ms
 *   <group>.include                 comma-separated regexes (required)
 *   <group>.exclude                 comma-separated regexes
 *   <group>.replication.factor      default: the default group's
 *   <group>.partitions              default: the default group's
 *   <group>.<topic config>          not inherited from the default group
 * A topic takes the first listed group whose include matches its whole
 * name and whose exclude does not; else the default group. -1 for the
 * replication factor or the partitions means the broker's default. */
#ifndef DP_KAFKA_TOPICS_H
#define DP_KAFKA_TOPICS_H

#include <librdkafka/rdkafka.h>

#include "common/config.h"
#include "common/err.h"
#include "common/relist.h"

#define KFK_TOPIC_DEFAULT_GROUP "default"
/* librdkafka's bounds of a new topic */
#define KFK_TOPIC_MAX_PARTITIONS 100000
#define KFK_TOPIC_MAX_REPLICATION 10000

typedef struct kfk_topic_group {
    char *name; /* KFK_TOPIC_DEFAULT_GROUP for the default group */
    dp_relist_t include, exclude; /* empty for the default group */
    int partitions, replication_factor; /* -1: the broker's default */
    char **config_names, **config_values; /* topic-level configs, as given */
    size_t nconfigs;
} kfk_topic_group_t;

typedef struct kfk_topic_rules {
    int configured; /* some topic.creation.* key beyond enable is set */
    int enabled; /* configured and topic.creation.enable: missing topics are created */
    kfk_topic_group_t *groups; /* the listed groups in order, the default group last */
    size_t ngroups;
} kfk_topic_rules_t;

/* kfk_topic_rules_init: the rules of topic.creation.enable (enable),
 * topic.creation.groups (groups, may be NULL) and the topic.creation.*
 * keys (keys, without the prefix). DP_ERR_CONFIG names the key at fault
 * (never its value). r is always safe to fini. */
dp_err_t kfk_topic_rules_init(kfk_topic_rules_t *r, int enable, const char *groups,
                              const cfg_kv_t *keys, char *errstr, size_t errstr_size);
void kfk_topic_rules_fini(kfk_topic_rules_t *r);

/* kfk_topic_rules_group: the group topic falls in (the default group
 * when no listed one takes it); NULL when the rules are not configured */
const kfk_topic_group_t *kfk_topic_rules_group(const kfk_topic_rules_t *r, const char *topic);

/* kfk_topic_group_describe: `group "g": 3 partitions, replication factor
 * 3, cleanup.policy=compact` */
void kfk_topic_group_describe(const kfk_topic_group_t *g, char *out, size_t out_size);

typedef enum {
    KFK_TOPIC_FOUND = 1, /* it was there (or another client created it meanwhile) */
    KFK_TOPIC_CREATED, /* created now */
    KFK_TOPIC_MISSING /* not there, and the rules do not create it */
} kfk_topic_outcome_t;

/* kfk_topic_ensure: look topic up (one metadata request that asks no
 * broker to auto-create it when rk's allow.auto.create.topics is false);
 * when missing and r->enabled, create it with CreateTopics as its group
 * says, each request bounded by timeout_ms, and wait (as long again)
 * until the metadata shows it steadily (kfk_topic_wait_steady).
 * TOPIC_ALREADY_EXISTS is success: another
 * creator won the race. *partitions is the topic's partition count when
 * known (else 0). Errors name the topic and the broker's reason:
 * DP_ERR_NET when trying again later may succeed (a timeout, no
 * controller yet), DP_ERR_KAFKA when the cluster refused (not
 * authorized, an invalid setting, a policy), DP_ERR_CONFIG when this
 * principal may not even describe it. */
dp_err_t kfk_topic_ensure(rd_kafka_t *rk, const kfk_topic_rules_t *r, const char *topic,
                          int timeout_ms, kfk_topic_outcome_t *outcome, int *partitions,
                          char *errstr, size_t errstr_size);

/* kfk_topic_wait_steady: wait, at most timeout_ms, until topic has shown
 * its partitions in every metadata answer for KFK_TOPIC_STEADY_MS and in
 * at least three in a row. A topic just created reaches the brokers one
 * by one, and librdkafka asks any of them: one answer that shows it can
 * be followed by one from a broker that does not know it yet, and then
 * librdkafka drops the topic's partitions with the records queued on
 * them. A changed partition count starts the span again. 1 when steady,
 * *parts its partition count; 0 at the bound, *parts what the last answer
 * showed (0: not there). */
#define KFK_TOPIC_STEADY_MS 1000
int kfk_topic_wait_steady(rd_kafka_t *rk, const char *topic, int timeout_ms, int *parts);

#endif
