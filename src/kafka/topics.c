/* topics.c - KIP-158 topic creation rules and CreateTopics (see topics.h). */
#include "kafka/topics.h"

#include "common/clock.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "kafka/kafka.h"

#define PREFIX "topic.creation."
/* a group's replication factor or partitions not given (yet) */
#define UNSET INT_MIN

static kfk_topic_group_t *add_group(kfk_topic_rules_t *r, const char *name) {
    r->groups = dp_xrealloc(r->groups, sizeof *r->groups * (r->ngroups + 1));
    kfk_topic_group_t *g = &r->groups[r->ngroups++];
    memset(g, 0, sizeof *g);
    g->name = dp_xstrdup(name);
    g->partitions = g->replication_factor = UNSET;
    return g;
}

static kfk_topic_group_t *find_group(kfk_topic_rules_t *r, const char *name) {
    for (size_t i = 0; i < r->ngroups; i++)
        if (strcmp(r->groups[i].name, name) == 0) return &r->groups[i];
    return NULL;
}

/* parse_groups: topic.creation.groups, in order; "default" (always last)
 * and repeated names are left out */
static void parse_groups(kfk_topic_rules_t *r, const char *groups) {
    char *copy = dp_xstrdup(groups ? groups : ""), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l && tok[l - 1] == ' ') tok[--l] = 0;
        if (l && strcmp(tok, KFK_TOPIC_DEFAULT_GROUP) != 0 && !find_group(r, tok))
            add_group(r, tok);
    }
    free(copy);
}

/* owner: the group a key (without the prefix) belongs to, the longest
 * name that is followed by '.' and more; *prop is what follows */
static kfk_topic_group_t *owner(kfk_topic_rules_t *r, const char *key, const char **prop) {
    kfk_topic_group_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < r->ngroups; i++) {
        size_t l = strlen(r->groups[i].name);
        if (l > best_len && strncmp(key, r->groups[i].name, l) == 0 && key[l] == '.' &&
            key[l + 1]) {
            best = &r->groups[i];
            best_len = l;
        }
    }
    if (best) *prop = key + best_len + 1;
    return best;
}

/* parse_count: "-1" or 1..max, strictly an integer */
static int parse_count(const char *v, int max, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (*end == ' ') end++;
    if (errno || end == v || *end || (x != -1 && (x < 1 || x > max))) return -1;
    *out = (int)x;
    return 0;
}

static void add_config(kfk_topic_group_t *g, const char *name, const char *value) {
    g->config_names = dp_xrealloc(g->config_names, sizeof(char *) * (g->nconfigs + 1));
    g->config_values = dp_xrealloc(g->config_values, sizeof(char *) * (g->nconfigs + 1));
    g->config_names[g->nconfigs] = dp_xstrdup(name);
    g->config_values[g->nconfigs] = dp_xstrdup(value);
    g->nconfigs++;
}

/* set_key: one topic.creation.<group>.<prop> = value */
static dp_err_t set_key(kfk_topic_group_t *g, const char *prop, const char *value, char *errstr,
                        size_t n) {
    int is_default = strcmp(g->name, KFK_TOPIC_DEFAULT_GROUP) == 0;
    char key[600];
    snprintf(key, sizeof key, PREFIX "%s.%s", g->name, prop);
    if (!strcmp(prop, "include") || !strcmp(prop, "exclude")) {
        if (is_default)
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "\"%s\": the default group takes every topic that no group of "
                             "\"" PREFIX "groups\" takes; it has no %s list",
                             key, prop);
        dp_relist_t *l = prop[0] == 'i' ? &g->include : &g->exclude;
        dp_relist_free(l);
        return dp_relist_compile_exact(value, l, key, errstr, n);
    }
    int is_rf = !strcmp(prop, "replication.factor");
    if (is_rf || !strcmp(prop, "partitions")) {
        int max = is_rf ? KFK_TOPIC_MAX_REPLICATION : KFK_TOPIC_MAX_PARTITIONS;
        if (parse_count(value, max, is_rf ? &g->replication_factor : &g->partitions))
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "invalid value for \"%s\": expected -1 (the broker's default) or an "
                             "integer from 1 to %d",
                             key, max);
        return DP_OK;
    }
    add_config(g, prop, value); /* a topic-level config: the broker checks it */
    return DP_OK;
}

/* check_groups: every listed group has its include list, the default
 * group both counts; the listed ones inherit the counts they lack */
static dp_err_t check_groups(kfk_topic_rules_t *r, char *errstr, size_t n) {
    kfk_topic_group_t *def = &r->groups[r->ngroups - 1];
    for (size_t i = 0; i + 1 < r->ngroups; i++) {
        if (!r->groups[i].include.n)
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "missing \"" PREFIX "%s.include\": group \"%s\" is listed in "
                             "\"" PREFIX "groups\"",
                             r->groups[i].name, r->groups[i].name);
    }
    const char *missing = def->replication_factor == UNSET ? "replication.factor"
        : def->partitions == UNSET                         ? "partitions"
                                                           : NULL;
    if (missing)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "missing \"" PREFIX "default.%s\": topic creation needs "
                         "\"" PREFIX "default.replication.factor\" and "
                         "\"" PREFIX "default.partitions\" once a " PREFIX "* key is set",
                         missing);
    for (size_t i = 0; i + 1 < r->ngroups; i++) {
        kfk_topic_group_t *g = &r->groups[i];
        if (g->replication_factor == UNSET) g->replication_factor = def->replication_factor;
        if (g->partitions == UNSET) g->partitions = def->partitions;
    }
    return DP_OK;
}

dp_err_t kfk_topic_rules_init(kfk_topic_rules_t *r, int enable, const char *groups,
                              const cfg_kv_t *keys, char *errstr, size_t n) {
    memset(r, 0, sizeof *r);
    parse_groups(r, groups);
    r->configured = r->ngroups > 0 || (keys && keys->n > 0);
    add_group(r, KFK_TOPIC_DEFAULT_GROUP);
    for (size_t i = 0; keys && i < keys->n; i++) {
        const char *prop = NULL;
        kfk_topic_group_t *g = owner(r, keys->keys[i], &prop);
        if (!g) {
            const char *k = keys->keys[i], *dot = strchr(k, '.');
            int l = dot ? (int)(dot - k) : (int)strlen(k);
            char first[256];
            snprintf(first, sizeof first, "%.*s", l, k);
            if (find_group(r, first))
                return dp_seterr(errstr, n, DP_ERR_CONFIG,
                                 "unknown configuration key \"" PREFIX "%s\": expected "
                                 "\"" PREFIX "%s.<key>\"",
                                 k, first);
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "unknown configuration key \"" PREFIX "%s\": \"%s\" is neither "
                             "\"default\" nor a group of \"" PREFIX "groups\"",
                             k, first);
        }
        dp_err_t err = set_key(g, prop, keys->values[i], errstr, n);
        if (err) return err;
    }
    if (!r->configured) return DP_OK;
    dp_err_t err = check_groups(r, errstr, n);
    if (err) return err;
    r->enabled = enable;
    return DP_OK;
}

void kfk_topic_rules_fini(kfk_topic_rules_t *r) {
    for (size_t i = 0; i < r->ngroups; i++) {
        kfk_topic_group_t *g = &r->groups[i];
        free(g->name);
        dp_relist_free(&g->include);
        dp_relist_free(&g->exclude);
        for (size_t k = 0; k < g->nconfigs; k++) {
            free(g->config_names[k]);
            free(g->config_values[k]);
        }
        free(g->config_names);
        free(g->config_values);
    }
    free(r->groups);
    memset(r, 0, sizeof *r);
}

const kfk_topic_group_t *kfk_topic_rules_group(const kfk_topic_rules_t *r, const char *topic) {
    if (!r->configured || !r->ngroups) return NULL;
    for (size_t i = 0; i + 1 < r->ngroups; i++) {
        const kfk_topic_group_t *g = &r->groups[i];
        if (dp_relist_match(&g->include, topic) && !dp_relist_match(&g->exclude, topic)) return g;
    }
    return &r->groups[r->ngroups - 1];
}

static void put_count(char *out, size_t n, size_t *used, const char *what, int v) {
    if (*used >= n) return;
    if (v < 0)
        *used += (size_t)snprintf(out + *used, n - *used, ", %s the broker's default", what);
    else
        *used += (size_t)snprintf(out + *used, n - *used, ", %s %d", what, v);
}

void kfk_topic_group_describe(const kfk_topic_group_t *g, char *out, size_t n) {
    size_t used = (size_t)snprintf(out, n, "group \"%s\"", g->name);
    put_count(out, n, &used, "partitions", g->partitions);
    put_count(out, n, &used, "replication factor", g->replication_factor);
    for (size_t i = 0; i < g->nconfigs && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, ", %s=%s", g->config_names[i],
                                 g->config_values[i]);
}

/* retriable: a failure of the request rather than the cluster's answer */
static dp_err_t classify(rd_kafka_resp_err_t e) {
    if (kfk_err(e) == DP_ERR_NET || e == RD_KAFKA_RESP_ERR_NOT_CONTROLLER ||
        e == RD_KAFKA_RESP_ERR__WAIT_COORD)
        return DP_ERR_NET;
    return DP_ERR_KAFKA;
}

/* refused: the error of a CreateTopics answer, with the broker's reason
 * and, for a missing permission, what to grant */
static dp_err_t refused(const char *topic, const kfk_topic_group_t *g, rd_kafka_resp_err_t e,
                        const char *reason, char *errstr, size_t n) {
    char desc[1024];
    kfk_topic_group_describe(g, desc, sizeof desc);
    const char *name = rd_kafka_err2str(e);
    int auth = e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
    int own = reason && *reason && strcmp(reason, name) != 0;
    return dp_seterr(errstr, n, classify(e),
                     "cannot create topic \"%s\" (topic.creation %s): %s%s%s%s", topic, desc, name,
                     own ? ": " : "", own ? reason : "",
                     auth ? " (grant this principal Create on the topic, or create it "
                            "beforehand, e.g. with datapipe topics as an administrator)"
                          : "");
}

/* create: one CreateTopics request for topic as g says; DP_OK with
 * *created 0 when the cluster says it exists already */
static dp_err_t create(rd_kafka_t *rk, const kfk_topic_group_t *g, const char *topic,
                       int timeout_ms, int *created, char *errstr, size_t n) {
    char rerr[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, g->partitions, g->replication_factor, rerr, sizeof rerr);
    if (!nt)
        return dp_seterr(errstr, n, DP_ERR_CONFIG, "cannot create topic \"%s\": %s", topic, rerr);
    for (size_t i = 0; i < g->nconfigs; i++) {
        if (rd_kafka_NewTopic_set_config(nt, g->config_names[i], g->config_values[i])) {
            rd_kafka_NewTopic_destroy(nt);
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "cannot create topic \"%s\": bad topic config \"" PREFIX "%s.%s\"",
                             topic, g->name, g->config_names[i]);
        }
    }
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, rerr, sizeof rerr);
    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, rerr, sizeof rerr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_AdminOptions_destroy(o);
    /* the request timeout bounds the answer; the margin covers a wait for
     * the controller that librdkafka bounds with the same timeout */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    dp_err_t err = DP_OK;
    *created = 0;
    if (!ev) {
        err = dp_seterr(errstr, n, DP_ERR_NET, "cannot create topic \"%s\": no answer in %d ms",
                        topic, timeout_ms + 5000);
    } else if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
        err = dp_seterr(errstr, n, classify(e), "cannot create topic \"%s\": %s", topic,
                        rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            *created = 1;
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) /* a race another creator won */
            err = refused(topic, g, e, cnt == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL,
                          errstr, n);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return err;
}

dp_err_t kfk_topic_ensure(rd_kafka_t *rk, const kfk_topic_rules_t *r, const char *topic,
                          int timeout_ms, kfk_topic_outcome_t *outcome, int *partitions,
                          char *errstr, size_t n) {
    int parts = 0, created = 0;
    *outcome = KFK_TOPIC_MISSING;
    *partitions = 0;
    dp_err_t err = kfk_topic_partitions(rk, topic, timeout_ms, &parts, errstr, n);
    if (err) return err;
    /* without creation, "does not exist" is confirmed over about two
     * seconds: a topic created a moment ago may be missing from one
     * broker's metadata (with creation, CreateTopics tells) */
    for (int i = 0; i < 4 && parts == 0 && (!r || !r->enabled); i++) {
        struct timespec ts = {0, 500000000};
        nanosleep(&ts, NULL);
        if ((err = kfk_topic_partitions(rk, topic, timeout_ms, &parts, errstr, n))) return err;
    }
    if (parts > 0 || !r || !r->enabled) {
        *outcome = parts > 0 ? KFK_TOPIC_FOUND : KFK_TOPIC_MISSING;
        *partitions = parts;
        return DP_OK;
    }
    const kfk_topic_group_t *g = kfk_topic_rules_group(r, topic);
    if ((err = create(rk, g, topic, timeout_ms, &created, errstr, n))) return err;
    *outcome = created ? KFK_TOPIC_CREATED : KFK_TOPIC_FOUND;
    /* creation is asynchronous in the cluster: wait (bounded) until the
     * metadata shows the topic steadily, so that producing to it meets
     * neither "unknown topic" nor a partition count that drops to 0 */
    if (!kfk_topic_wait_steady(rk, topic, timeout_ms, &parts))
        dp_warn("kafka",
                "topic \"%s\": not shown steadily by the metadata within %d ms of "
                "its creation (records may meet an unknown partition; a restart heals that)",
                topic, timeout_ms);
    *partitions = parts;
    return DP_OK;
}

int kfk_topic_wait_steady(rd_kafka_t *rk, const char *topic, int timeout_ms, int *parts) {
    int64_t until = dp_mono_ms() + timeout_ms, since = -1;
    int in_row = 0;
    *parts = 0;
    for (;;) {
        int64_t now = dp_mono_ms();
        if (now >= until) return 0;
        int left = (int)(until - now), p = 0;
        char ignored[256];
        if (kfk_topic_partitions(rk, topic, left, &p, ignored, sizeof ignored) == DP_OK && p > 0) {
            if (since < 0 || p != *parts) since = now, in_row = 0; /* a new streak */
            in_row++;
            *parts = p;
            if (in_row >= 3 && dp_mono_ms() - since >= KFK_TOPIC_STEADY_MS) return 1;
        } else {
            since = -1;
            *parts = 0;
        }
        left = (int)(until - dp_mono_ms());
        if (left <= 0) return 0;
        struct timespec ts = {0, (left < 100 ? left : 100) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
