/* status.c - one report of the pipeline's position, from the capture and
 * archive configurations: the slot's confirmed position and lag in
 * PostgreSQL, end offsets of the archived topics against the archive
 * group's committed offsets, and the objects under topics.dir in S3.
 *
 * It answers within a bounded time whatever is down: each server's part
 * has its own deadline, and what did not answer is named in the report
 * (a partition whose leader is gone, a server that refused or timed out).
 * The Kafka part runs in a thread of its own: librdkafka's offset query
 * waits for a broker that is down longer than the timeout it is given, so
 * past its budget the report goes on without it. */
#include "status/status.h"

#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive/archive.h"
#include "capture/capture.h"
#include "common/clock.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "kafka/kafka.h"
#include "pg/repl.h"
#include "s3/client.h"

typedef struct report {
    int pg_ok, slot_active;
    char confirmed[32];
    long long slot_lag_bytes;
    int kafka_ok;
    long long kafka_end, archived;
    int s3_ok;
    long long objects, bytes;
    int kafka_unanswered; /* partitions whose end offset did not come in time */
    char pg_err[1024], kafka_err[1024], s3_err[1024];
} report_t;

/* KAFKA_BUDGET_MS: the whole Kafka part, however many partitions */
#define KAFKA_BUDGET_MS 15000
/* STATUS_MAX_S: the whole command, whatever a library call does; past it
 * status names the part that did not answer and exits 3 */
#define STATUS_MAX_S 45

static const char *volatile current_part = "configuration";

static void on_alarm(int sig) {
    (void)sig;
    static const char a[] = "datapipe status: no answer from ", b[] = " within 45 s\n";
    const char *part = current_part;
    (void)!write(2, a, sizeof a - 1);
    (void)!write(2, part, strlen(part));
    (void)!write(2, b, sizeof b - 1);
    _exit(3);
}

/* one_line: errstr as one line for the report */
static void one_line(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src);
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
}

static void pg_part(const capture_settings_t *cs, report_t *r) {
    char errstr[512];
    repl_conninfo_t ci;
    capture_conninfo(cs, &ci);
    ci.application_name = "datapipe-status";
    PGconn *c = repl_connect(&ci, 0, errstr, sizeof errstr); /* connect_timeout bounds it */
    if (!c) {
        one_line(r->pg_err, sizeof r->pg_err, errstr);
        return;
    }
    const char *params[1] = {cs->slot_name};
    PGresult *res =
        PQexecParams(c,
                     "SELECT active, confirmed_flush_lsn, "
                     "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                     "FROM pg_replication_slots WHERE slot_name = $1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        r->pg_ok = 1;
        r->slot_active = PQgetvalue(res, 0, 0)[0] == 't';
        snprintf(r->confirmed, sizeof r->confirmed, "%s", PQgetvalue(res, 0, 1));
        r->slot_lag_bytes = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        snprintf(r->pg_err, sizeof r->pg_err, "slot \"%s\" does not exist", cs->slot_name);
    } else {
        one_line(r->pg_err, sizeof r->pg_err, PQresultErrorMessage(res));
    }
    PQclear(res);
    PQfinish(c);
}

static void kafka_part(const archive_settings_t *as, report_t *r) {
    char errstr[512], group[600];
    snprintf(group, sizeof group, "connect-%s", as->name);
    const char *defaults[] = {"group.id", group, NULL};
    int64_t deadline = dp_mono_ms() + KAFKA_BUDGET_MS;
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, NULL, &as->svc.kafka, errstr, sizeof errstr);
    rd_kafka_t *rk =
        conf ? kfk_new(RD_KAFKA_CONSUMER, conf, "consumer", errstr, sizeof errstr) : NULL;
    if (!rk) {
        one_line(r->kafka_err, sizeof r->kafka_err, errstr);
        return;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 1, NULL, &md, dp_left_ms(deadline, 10000));
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(r->kafka_err, sizeof r->kafka_err, "no metadata from %s: %s",
                 cfg_kv_get(&as->svc.kafka, "bootstrap.servers"), rd_kafka_err2str(me));
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        return;
    }
    regex_t re;
    char pat[1200];
    snprintf(pat, sizeof pat, "^(%s)$", as->topics_regex ? as->topics_regex : "");
    int have_re = as->topics_regex && regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < md->topic_cnt; t++) {
        const char *name = md->topics[t].topic;
        int match = have_re ? regexec(&re, name, 0, NULL, 0) == 0
                            : (as->topics && strstr(as->topics, name) != NULL);
        if (!match) continue;
        for (int p = 0; p < md->topics[t].partition_cnt; p++) {
            const struct rd_kafka_metadata_partition *mp = &md->topics[t].partitions[p];
            int64_t lo, hi;
            /* a partition without a leader cannot answer: do not wait for it */
            if (mp->leader < 0 || dp_left_ms(deadline, 5000) == 0 ||
                rd_kafka_query_watermark_offsets(rk, name, mp->id, &lo, &hi,
                                                 dp_left_ms(deadline, 5000)) != 0)
                r->kafka_unanswered++;
            else
                r->kafka_end += hi;
            rd_kafka_topic_partition_list_add(l, name, mp->id);
        }
    }
    if (have_re) regfree(&re);
    rd_kafka_metadata_destroy(md);
    rd_kafka_resp_err_t ce = dp_left_ms(deadline, 10000)
        ? rd_kafka_committed(rk, l, dp_left_ms(deadline, 10000))
        : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ce == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->kafka_ok = !r->kafka_unanswered;
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset > 0) r->archived += l->elems[i].offset;
    } else {
        snprintf(r->kafka_err, sizeof r->kafka_err, "committed offsets of group \"%s\": %s", group,
                 rd_kafka_err2str(ce));
    }
    if (r->kafka_unanswered && !*r->kafka_err)
        snprintf(r->kafka_err, sizeof r->kafka_err,
                 "%d partitions did not answer within %d s (a broker down, a leader gone)",
                 r->kafka_unanswered, KAFKA_BUDGET_MS / 1000);
    rd_kafka_topic_partition_list_destroy(l);
    /* it never joined the group: nothing to leave, no wait for a coordinator that may be gone */
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

/* the Kafka part in a thread: what it found, once done */
typedef struct kafka_job {
    const archive_settings_t *as;
    report_t r;
    int done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} kafka_job_t;

static void *kafka_thread(void *arg) {
    kafka_job_t *j = arg;
    kafka_part(j->as, &j->r);
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* kafka_bounded: kafka_part within its budget and a margin; 1 when it
 * did not finish (its thread goes on, and what it uses must stay) */
static int kafka_bounded(const archive_settings_t *as, report_t *r) {
    kafka_job_t *j = dp_xcalloc(1, sizeof *j);
    j->as = as;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, kafka_thread, j)) { /* no thread: in line, unbounded by it */
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
        kafka_part(as, r);
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += KAFKA_BUDGET_MS / 1000 + 5;
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    while (!j->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&j->cv, &j->mu, &until);
    int done = j->done;
    pthread_mutex_unlock(&j->mu);
    if (!done) {
        pthread_detach(t);
        snprintf(r->kafka_err, sizeof r->kafka_err,
                 "no answer within %d s (a broker down, a "
                 "leader gone)",
                 KAFKA_BUDGET_MS / 1000 + 5);
        return 1;
    }
    pthread_join(t, NULL);
    r->kafka_ok = j->r.kafka_ok;
    r->kafka_end = j->r.kafka_end;
    r->archived = j->r.archived;
    r->kafka_unanswered = j->r.kafka_unanswered;
    memcpy(r->kafka_err, j->r.kafka_err, sizeof r->kafka_err);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    return 0;
}

static dp_err_t count_obj(void *ctx, const char *key, uint64_t size) {
    report_t *r = ctx;
    (void)key;
    r->objects++;
    r->bytes += (long long)size;
    return DP_OK;
}

static void s3_part(const archive_settings_t *as, report_t *r) {
    char errstr[512];
    s3_client_t *c = NULL;
    archive_s3_client(as, 1, &c, errstr, sizeof errstr);
    if (!c) {
        one_line(r->s3_err, sizeof r->s3_err, errstr);
        return;
    }
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/", as->topics_dir);
    if (s3_list_objects(c, prefix, count_obj, r, errstr, sizeof errstr) == DP_OK)
        r->s3_ok = 1;
    else
        one_line(r->s3_err, sizeof r->s3_err, errstr);
    s3_client_destroy(c);
}

int status_main(int argc, char **argv) {
    static const struct option opts[] = {{"capture", required_argument, NULL, 'c'},
                                         {"archive", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cpath = NULL, *apath = NULL;
    int json = 0, o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:a:jh", opts, NULL)) != -1) {
        if (o == 'c')
            cpath = optarg;
        else if (o == 'a')
            apath = optarg;
        else if (o == 'j')
            json = 1;
        else {
            fprintf(o == 'h' ? stdout : stderr,
                    "usage: datapipe status --capture FILE --archive FILE [--json]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (!cpath || !apath) {
        fprintf(stderr, "usage: datapipe status --capture FILE --archive FILE [--json]\n");
        return 2;
    }
    dp_log_level = DP_LOG_ERROR;
    capture_settings_t cs;
    archive_settings_t as;
    memset(&cs, 0, sizeof cs);
    memset(&as, 0, sizeof as);
    char errstr[1024];
    int rc = 0, abandoned = 0;
    if (cfg_load(&capture_config_table, &cs, cpath, errstr, sizeof errstr) ||
        cfg_finish(&capture_config_table, &cs, errstr, sizeof errstr) ||
        cfg_load(&archive_config_table, &as, apath, errstr, sizeof errstr) ||
        cfg_finish(&archive_config_table, &as, errstr, sizeof errstr)) {
        fprintf(stderr, "datapipe status: %s\n", errstr);
        rc = 2;
        goto out;
    }
    report_t r;
    memset(&r, 0, sizeof r);
    signal(SIGALRM, on_alarm);
    alarm(STATUS_MAX_S);
    current_part = "postgresql";
    pg_part(&cs, &r);
    current_part = "kafka";
    abandoned = kafka_bounded(&as, &r);
    current_part = "s3";
    s3_part(&as, &r);
    current_part = "the output";
    if (json) {
        dp_buf_t b;
        dp_buf_init(&b, 1 << 16);
        dp_buf_puts(&b, "{\"postgres\":{\"ok\":");
        dp_buf_puts(&b, r.pg_ok ? "true" : "false");
        dp_buf_puts(&b, ",\"slot\":");
        dp_json_put_str(&b, cs.slot_name, strlen(cs.slot_name));
        dp_buf_printf(&b, ",\"active\":%s,\"confirmed_lsn\":\"%s\",\"lag_bytes\":%lld,\"error\":",
                      r.slot_active ? "true" : "false", r.confirmed, r.slot_lag_bytes);
        dp_json_put_str(&b, r.pg_err, strlen(r.pg_err));
        dp_buf_printf(&b,
                      "},\"kafka\":{\"ok\":%s,\"end_offsets\":%lld,\"archived_offsets\":%lld,"
                      "\"lag\":%lld,\"unanswered_partitions\":%d,\"error\":",
                      r.kafka_ok ? "true" : "false", r.kafka_end, r.archived,
                      r.kafka_end - r.archived, r.kafka_unanswered);
        dp_json_put_str(&b, r.kafka_err, strlen(r.kafka_err));
        dp_buf_printf(&b, "},\"s3\":{\"ok\":%s,\"objects\":%lld,\"bytes\":%lld,\"error\":",
                      r.s3_ok ? "true" : "false", r.objects, r.bytes);
        dp_json_put_str(&b, r.s3_err, strlen(r.s3_err));
        dp_buf_puts(&b, "}}\n");
        fputs(dp_buf_cstr(&b), stdout);
        dp_buf_fini(&b);
    } else {
        printf("postgres  slot \"%s\" %s, confirmed %s, %lld bytes behind\n", cs.slot_name,
               r.pg_ok ? (r.slot_active ? "active" : "inactive") : "unknown",
               r.pg_ok ? r.confirmed : "-", r.slot_lag_bytes);
        printf("kafka     %lld records in topics, %lld archived (group connect-%s), lag %lld\n",
               r.kafka_end, r.archived, as.name, r.kafka_end - r.archived);
        printf("s3        %lld objects, %lld bytes under s3://%s/%s/\n", r.objects, r.bytes,
               as.s3_bucket, as.topics_dir);
        if (*r.pg_err) printf("postgres  unreachable or incomplete: %s\n", r.pg_err);
        if (*r.kafka_err) printf("kafka     unreachable or incomplete: %s\n", r.kafka_err);
        if (*r.s3_err) printf("s3        unreachable or incomplete: %s\n", r.s3_err);
    }
    rc = r.pg_ok && r.kafka_ok && r.s3_ok ? 0 : 1;
out:
    cfg_free(&capture_config_table, &cs);
    if (abandoned) {
        /* librdkafka's thread still runs on what it was given: leave at
         * once, without tearing that down under it (or reporting it) */
        fflush(stdout);
        _exit(rc);
    }
    cfg_free(&archive_config_table, &as);
    return rc;
}
