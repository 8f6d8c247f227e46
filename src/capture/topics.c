/* topics.c - the topics capture writes, found or created before their
 * first record as topic.creation.* say (kafka/topics.h), and `datapipe
 * topics`, which does the same for every topic of a configuration and
 * exits (a Kubernetes hook Job runs it before capture starts).
 *
 * Failures: a timeout or an absent controller is tried again with the
 * retry policy's backoff, a few times; a refusal (not authorized, an
 * invalid topic config, a policy) is final: capture stops with exit code
 * 1 and the error names the topic and the broker's reason, as it does
 * for a missing topic without creation. Restarting capture (Kubernetes
 * does) tries again once the grant or the setting is fixed; nothing is
 * lost meanwhile, since the slot keeps every unconfirmed change. The
 * heartbeat topic is the exception: heartbeats are an aid, so its
 * failure is a warning and capture looks again every 10 s. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/retry.h"
#include "pg/repl.h"

/* each CreateTopics or metadata request, and the wait for a new topic */
#define TOPIC_TIMEOUT_MS 10000
/* transient failures tried again: 1 s, 2 s, 4 s (with jitter) */
#define TOPIC_RETRIES 3

/* ensure: kfk_topic_ensure, with transient failures tried again; a
 * missing topic that is not created is an error naming what it is for */
static dp_err_t ensure(rd_kafka_t *rk, const kfk_topic_rules_t *r, const char *topic,
                       const char *what, kfk_topic_outcome_t *out, int *parts, char *errstr,
                       size_t n) {
    dp_retry_t retry = {0};
    for (;;) {
        dp_err_t err = kfk_topic_ensure(rk, r, topic, TOPIC_TIMEOUT_MS, out, parts, errstr, n);
        if (!err && *out == KFK_TOPIC_MISSING)
            return dp_seterr(errstr, n, DP_ERR_KAFKA,
                             "topic \"%s\" for %s does not exist; create it first%s", topic, what,
                             r->configured
                                 ? " (topic.creation.enable is false)"
                                 : " (or set topic.creation.default.replication.factor and "
                                   "topic.creation.default.partitions to have it created)");
        if (!err || !dp_err_retriable(err) || retry.failures >= TOPIC_RETRIES ||
            capture_stop_requested)
            return err;
        long d = dp_retry_failed(&retry, dp_mono_ms());
        dp_warn(MOD, "%s; trying again in %ld ms", errstr, d);
        for (long waited = 0; waited < d && !capture_stop_requested; waited += 100)
            rd_kafka_poll(rk, 100); /* delivery reports keep coming meanwhile */
    }
}

dp_err_t capture_topic_ready(capture_t *c, const char *topic, const char *what, char *errstr,
                             size_t n) {
    kfk_topic_outcome_t out;
    int parts;
    dp_err_t err = ensure(c->rk, &c->topic_rules, topic, what, &out, &parts, errstr, n);
    if (!err && out == KFK_TOPIC_CREATED) {
        char desc[1024];
        kfk_topic_group_describe(kfk_topic_rules_group(&c->topic_rules, topic), desc, sizeof desc);
        dp_info(MOD, "created topic \"%s\" for %s (%s)", topic, what, desc);
    }
    return err;
}

dp_err_t capture_heartbeat_topic(capture_t *c, const char *topic, int *exists, char *errstr,
                                 size_t n) {
    kfk_topic_outcome_t out;
    int parts;
    *exists = 0;
    dp_err_t err = kfk_topic_ensure(c->rk, &c->topic_rules, topic, 5000, &out, &parts, errstr, n);
    if (err) return err;
    if (out == KFK_TOPIC_CREATED) dp_info(MOD, "created heartbeat topic \"%s\"", topic);
    *exists = out != KFK_TOPIC_MISSING;
    return DP_OK;
}

/* ---- datapipe topics ---- */

/* one topic of the configuration and what it is for (a topic that
 * several tables are routed to is listed once) */
typedef struct wanted {
    char *topic;
    char what[600];
    int more; /* further tables routed to it */
} wanted_t;

typedef struct wanted_list {
    wanted_t *w;
    size_t n;
} wanted_list_t;

static void want(wanted_list_t *l, char *topic, const char *what) {
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->w[i].topic, topic) == 0) {
            l->w[i].more++;
            free(topic);
            return;
        }
    }
    l->w = dp_xrealloc(l->w, sizeof *l->w * (l->n + 1));
    wanted_t *w = &l->w[l->n++];
    w->topic = topic;
    snprintf(w->what, sizeof w->what, "%s", what);
    w->more = 0;
}

/* list_tables: the change topics of the tables capture captures: those
 * of the publication (or of the one capture would create), kept by
 * table.include.list / table.exclude.list, through the transforms */
static dp_err_t list_tables(capture_t *c, wanted_list_t *l, char *errstr, size_t n) {
    repl_conninfo_t ci;
    capture_conninfo(&c->s, &ci);
    if (!(c->sql = repl_connect(&ci, 0, errstr, n))) return DP_ERR_NET;
    char **tables = NULL;
    size_t nt = 0;
    dp_err_t err =
        repl_publication_tables(c->sql, c->s.publication_name, c->s.publication_autocreate_mode,
                                c->s.table_include_list, &tables, &nt, errstr, n);
    for (size_t i = 0; i < nt; i++) {
        if (!err && (c->include.n == 0 || dp_relist_match(&c->include, tables[i])) &&
            !dp_relist_match(&c->exclude, tables[i])) {
            char base[1200], what[600];
            snprintf(base, sizeof base, "%s.%s", c->s.topic_prefix, tables[i]);
            snprintf(what, sizeof what, "table \"%s\"", tables[i]);
            want(l, cap_route(&c->tf, base), what);
        }
        free(tables[i]);
    }
    free(tables);
    return err;
}

/* list_topics: every topic capture writes with this configuration */
static dp_err_t list_topics(capture_t *c, wanted_list_t *l, char *errstr, size_t n) {
    dp_err_t err = list_tables(c, l, errstr, n);
    if (err) return err;
    char base[1200];
    if (c->s.heartbeat_interval_ms > 0) {
        snprintf(base, sizeof base, "%s.%s", c->s.heartbeat_topic_prefix, c->s.topic_prefix);
        want(l, dp_xstrdup(base), "heartbeats");
    }
    if (c->s.provide_transaction_metadata) {
        snprintf(base, sizeof base, "%s.%s", c->s.topic_prefix, c->s.topic_transaction);
        want(l, cap_route(&c->tf, base), "transaction metadata");
    }
    return DP_OK;
}

/* admin_client: a plain producer handle for metadata and CreateTopics,
 * with the user's kafka.* keys; it never asks a broker to auto-create */
static dp_err_t admin_client(capture_t *c, char *errstr, size_t n) {
    char client_id[600];
    snprintf(client_id, sizeof client_id, "%s-topics", c->s.name);
    const char *defaults[] = {"client.id", client_id, "allow.auto.create.topics", "false", NULL};
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, NULL, &c->s.svc.kafka, errstr, n);
    if (!conf) return DP_ERR_CONFIG;
    c->rk = kfk_new(RD_KAFKA_PRODUCER, conf, "admin client", errstr, n);
    return c->rk ? DP_OK : DP_ERR_KAFKA;
}

/* report: one line on stdout per topic there */
static void report(const capture_t *c, const wanted_t *w, kfk_topic_outcome_t out, int parts) {
    char what[700], desc[1024] = "";
    if (w->more)
        snprintf(what, sizeof what, "%s and %d more table%s", w->what, w->more,
                 w->more > 1 ? "s" : "");
    else
        snprintf(what, sizeof what, "%s", w->what);
    if (out == KFK_TOPIC_CREATED)
        kfk_topic_group_describe(kfk_topic_rules_group(&c->topic_rules, w->topic), desc,
                                 sizeof desc);
    else
        snprintf(desc, sizeof desc, "%d partition%s", parts, parts == 1 ? "" : "s");
    printf("%s topic \"%s\" for %s: %s\n", out == KFK_TOPIC_CREATED ? "created" : "found", w->topic,
           what, desc);
    fflush(stdout);
}

static void on_signal(int sig) {
    (void)sig;
    capture_stop_requested = 1;
}

static int topics_run(capture_t *c) {
    char errstr[1024] = "";
    capture_settings_t *s = &c->s;
    wanted_list_t l = {0};
    dp_err_t err;
    if (dp_log_set_level_name(s->svc.log_level) < 0) return 2;
    if ((err = dp_relist_compile(s->table_include_list, &c->include, "table.include.list", errstr,
                                 sizeof errstr)) ||
        (err = dp_relist_compile(s->table_exclude_list, &c->exclude, "table.exclude.list", errstr,
                                 sizeof errstr)) ||
        (err = cap_transforms_init(&c->tf, s, errstr, sizeof errstr)) ||
        (err = kfk_topic_rules_init(&c->topic_rules, s->topic_creation_enable,
                                    s->topic_creation_groups, &s->topic_creation_kv, errstr,
                                    sizeof errstr)) ||
        (err = admin_client(c, errstr, sizeof errstr))) {
        dp_error(MOD, "%s", errstr);
        return err == DP_ERR_CONFIG ? 2 : 1;
    }
    if (!c->topic_rules.enabled)
        dp_warn(MOD, "topic creation is off (%s): topics are only looked up",
                c->topic_rules.configured ? "topic.creation.enable is false"
                                          : "no topic.creation.default.* keys");
    if ((err = list_topics(c, &l, errstr, sizeof errstr))) {
        dp_error(MOD, "%s", errstr);
        return err == DP_ERR_CONFIG ? 2 : 1;
    }
    int failed = 0;
    for (size_t i = 0; i < l.n && !capture_stop_requested; i++) {
        kfk_topic_outcome_t out;
        int parts;
        err = ensure(c->rk, &c->topic_rules, l.w[i].topic, l.w[i].what, &out, &parts, errstr,
                     sizeof errstr);
        if (err) {
            dp_error(MOD, "%s", errstr);
            failed++;
        } else {
            report(c, &l.w[i], out, parts);
        }
    }
    dp_info(MOD, "%zu topics: %zu there, %d not", l.n, l.n - (size_t)failed, failed);
    for (size_t i = 0; i < l.n; i++) free(l.w[i].topic);
    free(l.w);
    return failed || capture_stop_requested ? 1 : 0;
}

int capture_topics_main(int argc, char **argv) {
    capture_t *c = dp_xcalloc(1, sizeof *c);
    c->wake.fd[0] = c->wake.fd[1] = -1;
    int rc = cfg_load_cli_named(&capture_config_table, "topics", &c->s, argc, argv);
    if (rc) {
        rc = rc < 0 ? 0 : rc; /* --help or --check, or an error already reported */
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        rc = topics_run(c);
    }
    capture_free(c);
    free(c);
    return rc;
}
