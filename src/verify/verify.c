/* verify.c - `datapipe verify --config ARCHIVE_CONFIG`: whether the archive
 * in S3 holds every record the archived topics hold, each once.
 *
 * Steps, in this order so that a running archive cannot make it see a
 * false gap (the archive commits an offset only after its object is in S3,
 * so every record below an offset committed before the listing is in an
 * object the listing sees):
 *   1. Kafka: the topics of topics.regex (or topics), the committed
 *      offsets of the archive's group (connect-<name>), then each
 *      partition's log start and high watermark;
 *   2. S3: every object under topics.dir/, and of each only its footer (a
 *      suffix range read, in parallel): topic, partition, first and last
 *      offset, from the archive's key/value entries;
 *   3. the plan (check.c): objects in offset order per partition, their
 *      overlaps, and the ranges no object covers;
 *   4. Kafka again: each such range read with a read_committed consumer
 *      that never joins the group; only records with a non-null value
 *      (data, not tombstones; markers and aborted records never arrive)
 *      make a gap;
 *   5. the report, human or --json, and the exit code: 0 complete, 1 not
 *      (a gap, an overlap or a foreign object), 2 usage or configuration,
 *      3 a server did not answer.
 *
 * Every wait is bounded: Kafka metadata, watermarks and committed offsets
 * share a deadline, a range read gives up when no record comes for a
 * while, S3 requests carry the client's timeout and retries. Memory is a
 * 32-byte summary per object, interned topic names and time paths, and a
 * few foreign keys kept for the report; never rows. */
#include "verify/verify.h"

#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive/archive.h"
#include "common/clock.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "kafka/kafka.h"
#include "s3/client.h"
#include "verify/rows.h"

#define MOD "verify"
#define KAFKA_BUDGET_MS 30000 /* metadata, watermarks and committed offsets together */
#define KAFKA_IDLE_MS 30000 /* a range read with no record or end for this long fails */
#define SEEK_DISTANCE 1000 /* read through shorter stretches rather than seek */
#define FOOTER_FIRST_READ 16384 /* bytes of the first suffix read: most footers are 2-8 KiB */
#define FOOTER_MAX (64u << 20) /* the largest footer read */
#define BATCH 256 /* objects whose footers are read together */
#define MAX_LISTED 1000 /* findings of one kind written out in full */
#define DEFAULT_PARALLEL 8
#define DEFAULT_MAX_OBJECTS 10000000LL

static const char usage_text[] =
    "usage: datapipe verify --config FILE [--set KEY=VALUE]... [--json] [--parallel N]\n"
    "                       [--max-objects N] [--against-postgres CAPTURE_CONFIG]\n"
    "  --config FILE      the archive's configuration (the file `datapipe archive` reads)\n"
    "  --set KEY=VALUE    override one of its keys\n"
    "  --json             one JSON document on stdout\n"
    "  --parallel N       footers read at once (1-64, default 8)\n"
    "  --max-objects N    refuse to hold more object summaries (default 10000000)\n"
    "  --against-postgres CAPTURE_CONFIG\n"
    "                     also rebuild the latest row per key from the archive and compare it\n"
    "                     with the live tables of the capture's configuration\n"
    "exit: 0 complete, 1 gaps, overlaps, foreign objects or rows that differ, 2 usage or "
    "configuration, "
    "3 a server did not answer\n";

/* a foreign object kept for the report */
typedef struct foreign {
    char *key, *reason;
} foreign_t;

/* one object of a batch, between the listing and the merge */
typedef struct item {
    char *key;
    uint64_t size;
    dp_err_t err; /* DP_OK, DP_ERR_INVALID (not our footer: reason), else a failure */
    int vanished; /* deleted between the listing and the read */
    vfy_footer_t ft;
    char reason[512];
} item_t;

typedef struct verify {
    archive_settings_t s;
    int tty, parallel;
    long long max_objects;
    char group[600], shape[512];
    regex_t re;
    int have_re;
    /* Kafka */
    rd_kafka_t *rk;
    vfy_facts_t *facts;
    size_t nfacts;
    /* S3 */
    s3_client_t *lister;
    s3_client_t **workers;
    dp_buf_t *tails;
    item_t batch[BATCH];
    size_t nbatch, next_item;
    pthread_mutex_t mu;
    /* what was found */
    vfy_strtab_t topics, names;
    size_t nkafka_topics; /* topics[0 .. nkafka_topics) are Kafka's, in name order */
    vfy_object_t *objs;
    size_t nobjs, objcap;
    uint64_t listed, bytes, vanished;
    foreign_t *foreign;
    size_t nforeign, foreign_total;
    /* a failure that stops the run, with its detail */
    dp_err_t failed;
    char errstr[1024];
    int64_t last_progress_ms;
    /* --against-postgres */
    vfy_rows_t *rows;
} verify_t;

/* progress: one overwritten line on stderr, when stderr is a terminal, at
 * most five times a second */
static void progress(verify_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(verify_t *v, const char *fmt, ...) {
    if (!v->tty) return;
    int64_t now = dp_mono_ms();
    if (now - v->last_progress_ms < 200) return;
    v->last_progress_ms = now;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[Kverify: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static void progress_clear(verify_t *v) {
    if (!v->tty || !v->last_progress_ms) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* fail: remember the first failure; returns err */
static dp_err_t fail(verify_t *v, dp_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dp_err_t fail(verify_t *v, dp_err_t err, const char *fmt, ...) {
    if (v->failed) return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->errstr, sizeof v->errstr, fmt, ap);
    va_end(ap);
    for (char *p = v->errstr; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    v->failed = err;
    return err;
}

/* topic_archived: whether this configuration archives topic */
static int topic_archived(const verify_t *v, const char *topic) {
    if (v->have_re) return regexec(&v->re, topic, 0, NULL, 0) == 0;
    return archive_topic_listed(v->s.topics, topic);
}

/* ---- Kafka ---- */

/* on_kafka_log: librdkafka's own lines go to the debug log; the report
 * names what did not answer */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    dp_debug("kafka", "%s: %s", fac, buf);
}

/* kafka_open: a consumer of the archive's group that never joins it (it
 * only assigns), commits nothing and reads committed records only */
static dp_err_t kafka_open(verify_t *v) {
    char errstr[512];
    const char *defaults[] = {"group.id",
                              v->group,
                              "client.id",
                              "datapipe-verify",
                              "enable.partition.eof",
                              "true",
                              "queued.max.messages.kbytes",
                              "16384",
                              "fetch.max.bytes",
                              "16777216",
                              NULL};
    rd_kafka_conf_t *conf = kfk_conf_new(defaults, NULL, &v->s.svc.kafka, errstr, sizeof errstr);
    if (!conf) return fail(v, DP_ERR_CONFIG, "%s", errstr);
    /* whatever the archive's file says about these, verify needs them so */
    static const char *const mine[] = {"isolation.level",
                                       "read_committed",
                                       "enable.auto.commit",
                                       "false",
                                       "enable.auto.offset.store",
                                       "false",
                                       "auto.offset.reset",
                                       "error",
                                       NULL};
    for (int i = 0; mine[i]; i += 2) {
        if (rd_kafka_conf_set(conf, mine[i], mine[i + 1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(v, DP_ERR_CONFIG, "kafka \"%s\": %s", mine[i], errstr);
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    v->rk = kfk_new(RD_KAFKA_CONSUMER, conf, "consumer", errstr, sizeof errstr);
    if (!v->rk) return fail(v, DP_ERR_CONFIG, "%s", errstr);
    rd_kafka_poll_set_consumer(v->rk);
    return DP_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* kafka_facts: the archived topics' partitions, the group's committed
 * offsets and then each partition's watermarks (in that order, so that a
 * high watermark is never below the committed offset), within
 * KAFKA_BUDGET_MS */
static dp_err_t kafka_facts(verify_t *v) {
    const char *servers = cfg_kv_get(&v->s.svc.kafka, "bootstrap.servers");
    int64_t deadline = dp_mono_ms() + KAFKA_BUDGET_MS;
    const struct rd_kafka_metadata *md;
    progress(v, "asking kafka (%s) for the topics", servers);
    rd_kafka_resp_err_t me = rd_kafka_metadata(v->rk, 1, NULL, &md, dp_left_ms(deadline, 15000));
    if (me)
        return fail(v, DP_ERR_NET, "kafka at \"%s\" did not answer: no metadata (%s)", servers,
                    rd_kafka_err2str(me));
    /* the topics in name order: the report follows it */
    const char **names = dp_xcalloc((size_t)md->topic_cnt + 1, sizeof *names);
    size_t nn = 0, nparts = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        if (md->topics[t].err || !topic_archived(v, md->topics[t].topic)) continue;
        names[nn++] = md->topics[t].topic;
        nparts += (size_t)md->topics[t].partition_cnt;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) vfy_strtab_add(&v->topics, names[i], strlen(names[i]));
    v->nkafka_topics = v->topics.n;
    free(names);
    v->facts = dp_xcalloc(nparts + 1, sizeof *v->facts);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)nparts + 1);
    dp_err_t err = DP_OK;
    for (int t = 0; !err && t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        if (mt->err || !topic_archived(v, mt->topic)) continue;
        for (int p = 0; !err && p < mt->partition_cnt; p++) {
            const struct rd_kafka_metadata_partition *mp = &mt->partitions[p];
            /* a partition without a leader cannot answer: do not wait for it */
            if (mp->leader < 0) {
                err = fail(v, DP_ERR_NET, "kafka at \"%s\": \"%s\" [%d] has no leader", servers,
                           mt->topic, mp->id);
                break;
            }
            vfy_facts_t *f = &v->facts[v->nfacts++];
            f->topic = vfy_strtab_find(&v->topics, mt->topic);
            f->partition = mp->id;
            f->committed = -1;
            rd_kafka_topic_partition_list_add(l, mt->topic, mp->id);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (!err && l->cnt) {
        progress(v, "committed offsets of group \"%s\"", v->group);
        rd_kafka_resp_err_t ce = dp_left_ms(deadline, 15000)
            ? rd_kafka_committed(v->rk, l, dp_left_ms(deadline, 15000))
            : RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (ce)
            err = fail(v, DP_ERR_NET, "kafka at \"%s\": no committed offsets of group \"%s\" (%s)",
                       servers, v->group, rd_kafka_err2str(ce));
        for (int i = 0; !err && i < l->cnt; i++) {
            /* the list was built in the order of the facts */
            if (l->elems[i].err && l->elems[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                err = fail(v, DP_ERR_NET, "kafka at \"%s\": committed offset of \"%s\" [%d]: %s",
                           servers, l->elems[i].topic, l->elems[i].partition,
                           rd_kafka_err2str(l->elems[i].err));
            else if (l->elems[i].offset >= 0)
                v->facts[i].committed = l->elems[i].offset;
        }
    }
    for (int i = 0; !err && i < l->cnt; i++) {
        const char *topic = l->elems[i].topic;
        int32_t part = l->elems[i].partition;
        progress(v, "watermarks of \"%s\" [%d]", topic, part);
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t we = RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (dp_left_ms(deadline, 10000))
            we = rd_kafka_query_watermark_offsets(v->rk, topic, part, &lo, &hi,
                                                  dp_left_ms(deadline, 10000));
        if (we)
            err = fail(v, DP_ERR_NET, "kafka at \"%s\": no offsets for \"%s\" [%d] (%s)", servers,
                       topic, part, rd_kafka_err2str(we));
        v->facts[i].log_start = lo;
        v->facts[i].high = hi;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

/* seek_to: move the assigned partition's fetch position to offset */
static dp_err_t seek_to(verify_t *v, const char *topic, int32_t partition, int64_t offset) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(v->rk, l, 10000);
    rd_kafka_topic_partition_list_destroy(l);
    if (!e) return DP_OK;
    fail(v, DP_ERR_NET, "kafka: cannot seek \"%s\" [%d] to offset %lld: %s", topic, partition,
         (long long)offset, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return DP_ERR_NET;
}

/* reader_t: the Kafka check of one partition: its verifiable ranges are
 * read in offset order. All offsets below a delivered record (or below
 * the end a partition EOF reports) have been delivered, so a range is
 * checked once a record past it arrives. */
typedef struct reader {
    const vfy_part_t *p;
    const char *topic;
    size_t i, end; /* the current range and the end of the partition's ranges */
    int64_t next; /* the lowest offset not yet delivered */
    int done;
} reader_t;

/* reader_skip: move past ranges Kafka cannot answer for; done at the end */
static void reader_skip(const vfy_plan_t *pl, reader_t *rd) {
    while (rd->i < rd->end && pl->ranges[rd->i].unverified != VFY_UNV_NONE) rd->i++;
    if (rd->i == rd->end) rd->done = 1;
}

/* reader_on_message: one message or partition event for rd. Short
 * stretches between ranges are read through, longer ones skipped with a
 * seek. */
static dp_err_t reader_on_message(verify_t *v, vfy_plan_t *pl, reader_t *rd,
                                  const rd_kafka_message_t *m, size_t *done) {
    const char *topic = rd->topic;
    int32_t part = rd->p->partition;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* everything below m->offset was delivered; nothing at or past it can be read */
        for (; rd->i < rd->end; rd->i++) {
            vfy_range_t *q = &pl->ranges[rd->i];
            if (q->unverified == VFY_UNV_NONE && q->to < m->offset) q->checked = 1, ++*done;
        }
        rd->done = 1;
        return DP_OK;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        /* retention removed offsets since the watermarks were read */
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(v->rk, topic, part, &lo, &hi, 10000))
            return fail(v, DP_ERR_NET, "kafka: no offsets for \"%s\" [%d]", topic, part);
        for (; rd->i < rd->end && pl->ranges[rd->i].from < lo; rd->i++)
            if (pl->ranges[rd->i].unverified == VFY_UNV_NONE)
                pl->ranges[rd->i].unverified = VFY_UNV_BELOW_START, ++*done;
        reader_skip(pl, rd);
        if (rd->done) return DP_OK;
        rd->next = pl->ranges[rd->i].from;
        return seek_to(v, topic, part, rd->next);
    }
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL)
            return fail(v, DP_ERR_KAFKA, "kafka: %s", rd_kafka_message_errstr(m));
        dp_debug(MOD, "consumer: \"%s\" [%d]: %s", topic, part, rd_kafka_message_errstr(m));
        return DP_OK;
    }
    if (m->offset < rd->next) return DP_OK; /* fetched before a seek */
    int64_t o = m->offset;
    rd->next = o + 1;
    for (; rd->i < rd->end; rd->i++) {
        vfy_range_t *q = &pl->ranges[rd->i];
        if (q->unverified == VFY_UNV_NONE && q->to >= o) break;
        if (q->unverified == VFY_UNV_NONE) q->checked = 1, ++*done;
    }
    if (rd->i == rd->end) {
        rd->done = 1;
        return DP_OK;
    }
    vfy_range_t *r = &pl->ranges[rd->i];
    vfy_range_note(r, o, m->payload != NULL);
    if (o == r->to) r->checked = 1, ++*done, rd->i++;
    reader_skip(pl, rd);
    if (!rd->done && pl->ranges[rd->i].from > rd->next + SEEK_DISTANCE) {
        rd->next = pl->ranges[rd->i].from;
        return seek_to(v, topic, part, rd->next);
    }
    return DP_OK;
}

static int cmp_reader(const void *a, const void *b) {
    const reader_t *x = a, *y = b;
    if (x->p->topic != y->p->topic) return x->p->topic < y->p->topic ? -1 : 1;
    return x->p->partition < y->p->partition ? -1 : x->p->partition > y->p->partition;
}

/* find_reader: the reader of the message's topic-partition, NULL if none */
static reader_t *find_reader(verify_t *v, reader_t *rds, size_t n, const rd_kafka_message_t *m) {
    if (!m->rkt) return NULL;
    uint32_t t = vfy_strtab_find(&v->topics, rd_kafka_topic_name(m->rkt));
    if (t == UINT32_MAX) return NULL;
    vfy_part_t key = {.topic = t, .partition = m->partition};
    reader_t probe = {.p = &key};
    return bsearch(&probe, rds, n, sizeof *rds, cmp_reader);
}

/* pause_reader: stop fetching the partition of rd */
static void pause_reader(verify_t *v, const reader_t *rd) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd->topic, rd->p->partition);
    rd_kafka_pause_partitions(v->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* kafka_check: read every verifiable range of the plan. Every partition
 * with something to read is assigned at once (the brokers answer in
 * parallel) and paused when its ranges are done. The wait is bounded:
 * KAFKA_IDLE_MS without any progress fails, naming a partition that did
 * not answer. */
static dp_err_t kafka_check(verify_t *v, vfy_plan_t *pl) {
    reader_t *rds = dp_xcalloc(pl->nparts + 1, sizeof *rds);
    size_t n = 0, total = 0, done = 0, finished = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)pl->nparts + 1);
    for (size_t k = 0; k < pl->nparts; k++) {
        reader_t *rd = &rds[n];
        memset(rd, 0, sizeof *rd);
        rd->p = &pl->parts[k];
        rd->topic = vfy_strtab_get(&v->topics, rd->p->topic);
        rd->i = rd->p->first_range;
        rd->end = rd->p->first_range + rd->p->nranges;
        for (size_t i = rd->i; i < rd->end; i++) total += pl->ranges[i].unverified == VFY_UNV_NONE;
        reader_skip(pl, rd);
        if (rd->done) continue;
        rd->next = pl->ranges[rd->i].from;
        rd_kafka_topic_partition_list_add(l, rd->topic, rd->p->partition)->offset = rd->next;
        n++;
    }
    dp_err_t err = DP_OK;
    rd_kafka_resp_err_t ae = n ? rd_kafka_assign(v->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (ae) err = fail(v, DP_ERR_NET, "kafka: cannot read the topics: %s", rd_kafka_err2str(ae));
    qsort(rds, n, sizeof *rds, cmp_reader);
    int64_t idle_until = dp_mono_ms() + KAFKA_IDLE_MS;
    while (!err && finished < n) {
        progress(v, "reading kafka: %zu of %zu ranges, %zu of %zu partitions done", done, total,
                 finished, n);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(v->rk, 200);
        if (!m) {
            if (dp_mono_ms() > idle_until) {
                const reader_t *rd = rds;
                while (rd->done) rd++;
                err = fail(v, DP_ERR_NET,
                           "kafka at \"%s\": nothing from \"%s\" [%d] for %d s while "
                           "reading offsets %lld..%lld",
                           cfg_kv_get(&v->s.svc.kafka, "bootstrap.servers"), rd->topic,
                           rd->p->partition, KAFKA_IDLE_MS / 1000,
                           (long long)pl->ranges[rd->i].from, (long long)pl->ranges[rd->i].to);
            }
            continue;
        }
        reader_t *rd = find_reader(v, rds, n, m);
        if (rd && !rd->done) {
            idle_until = dp_mono_ms() + KAFKA_IDLE_MS;
            err = reader_on_message(v, pl, rd, m, &done);
            if (rd->done) {
                finished++;
                pause_reader(v, rd);
            }
        } else if (!rd && m->err == RD_KAFKA_RESP_ERR__FATAL) {
            err = fail(v, DP_ERR_KAFKA, "kafka: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    if (n) rd_kafka_assign(v->rk, NULL);
    free(rds);
    return err;
}

/* ---- S3 ---- */

/* read_footer: the archive's footer entries of one object, read with
 * suffix ranges only (a second, longer one when the footer is longer
 * than the first read) */
static void read_footer(s3_client_t *c, dp_buf_t *tail, item_t *it) {
    if (it->size < 12) {
        it->err = dp_seterr(it->reason, sizeof it->reason, DP_ERR_INVALID,
                            "not a Parquet file (%llu bytes)", (unsigned long long)it->size);
        return;
    }
    size_t want = it->size < FOOTER_FIRST_READ ? (size_t)it->size : FOOTER_FIRST_READ, need = 0;
    for (;;) {
        dp_buf_reset(tail);
        dp_err_t err = s3_get_tail(c, it->key, want, tail, it->reason, sizeof it->reason);
        if (err) {
            if (strstr(it->reason, "NoSuchKey"))
                it->vanished = 1;
            else
                it->err = err == DP_ERR_INVALID ? DP_ERR_S3 : err; /* a key the client refuses */
            return;
        }
        err = vfy_read_footer(tail->data, tail->len, &it->ft, &need, it->reason, sizeof it->reason);
        if (err == DP_ERR_FULL && need > want && need <= FOOTER_MAX && need <= it->size) {
            want = need;
            continue;
        }
        it->err = err ? DP_ERR_INVALID : DP_OK;
        return;
    }
}

/* worker: read footers of the batch until none is left; one S3 client
 * (one connection) per worker */
typedef struct worker_arg {
    verify_t *v;
    int n;
} worker_arg_t;

static void *worker(void *arg) {
    worker_arg_t *w = arg;
    verify_t *v = w->v;
    for (;;) {
        pthread_mutex_lock(&v->mu);
        size_t i = v->next_item++;
        pthread_mutex_unlock(&v->mu);
        if (i >= v->nbatch) break;
        read_footer(v->workers[w->n], &v->tails[w->n], &v->batch[i]);
    }
    return NULL;
}

/* add_foreign: count an object that is not the archive's, keeping the
 * first MAX_LISTED for the report */
static void add_foreign(verify_t *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_foreign(verify_t *v, const char *key, const char *fmt, ...) {
    v->foreign_total++;
    if (v->nforeign >= MAX_LISTED) return;
    if (!v->foreign) v->foreign = dp_xcalloc(MAX_LISTED, sizeof *v->foreign);
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    v->foreign[v->nforeign].key = dp_xstrdup(key);
    v->foreign[v->nforeign].reason = dp_xstrdup(reason);
    v->nforeign++;
}

/* merge: one read object into the summaries. An object counts as the
 * archive's when its footer is (entries present, topic archived by this
 * configuration); its name must then agree with the footer. Foreign by
 * name but ours by footer, it is reported foreign and still takes part
 * in the offsets, so that a copy under another name shows as an overlap. */
static dp_err_t merge(verify_t *v, item_t *it) {
    if (it->vanished) {
        v->vanished++;
        return DP_OK;
    }
    if (it->err && it->err != DP_ERR_INVALID) {
        const char *url = v->s.store_url ? v->s.store_url : "aws";
        return fail(v, it->err == DP_ERR_S3 ? DP_ERR_S3 : DP_ERR_NET, "s3 at \"%s\": %s", url,
                    it->reason);
    }
    vfy_key_t k;
    char kreason[512];
    int name_ok =
        vfy_parse_key(it->key, v->s.topics_dir, v->shape, (int)v->s.filename_offset_zero_pad_width,
                      &k, kreason, sizeof kreason) == DP_OK;
    if (it->err) {
        add_foreign(v, it->key, "%s", it->reason);
        return DP_OK;
    }
    const vfy_footer_t *ft = &it->ft;
    if (!topic_archived(v, ft->topic)) {
        add_foreign(v, it->key,
                    "its footer names topic \"%s\", which this configuration does not "
                    "archive",
                    ft->topic);
        return DP_OK;
    }
    int odd = !name_ok;
    if (!name_ok) {
        add_foreign(v, it->key, "its footer is the archive's but its name is not: %s", kreason);
    } else if (k.topic_len != strlen(ft->topic) || strncmp(k.topic, ft->topic, k.topic_len) ||
               k.partition != ft->partition || k.offset != ft->start) {
        odd = 1;
        add_foreign(v, it->key,
                    "its name says \"%.*s\" [%d] from offset %lld, its footer "
                    "\"%s\" [%d] offsets %lld..%lld",
                    (int)k.topic_len, k.topic, k.partition, (long long)k.offset, ft->topic,
                    ft->partition, (long long)ft->start, (long long)ft->end);
    }
    if ((long long)v->nobjs >= v->max_objects)
        return fail(v, DP_ERR_NOMEM, "more than %lld objects under \"%s/\" (--max-objects)",
                    v->max_objects, v->s.topics_dir);
    if (v->nobjs == v->objcap) {
        v->objcap = v->objcap ? v->objcap * 2 : 1024;
        v->objs = dp_xrealloc(v->objs, v->objcap * sizeof *v->objs);
    }
    vfy_object_t *o = &v->objs[v->nobjs++];
    memset(o, 0, sizeof *o);
    o->start = ft->start;
    o->end = ft->end;
    o->topic = vfy_strtab_add(&v->topics, ft->topic, strlen(ft->topic));
    o->partition = ft->partition;
    o->odd_name = (uint8_t)odd;
    o->ext = odd ? 0 : (uint8_t)k.ext;
    o->name = odd ? vfy_strtab_add(&v->names, it->key, strlen(it->key))
                  : vfy_strtab_add(&v->names, k.path, k.path_len);
    return DP_OK;
}

/* run_batch: read the batch's footers in parallel, then merge them in key order */
static dp_err_t run_batch(verify_t *v) {
    v->next_item = 0;
    int n = v->parallel < (int)v->nbatch ? v->parallel : (int)v->nbatch;
    pthread_t th[64];
    worker_arg_t args[64];
    int started = 0;
    for (int i = 1; i < n; i++) {
        args[i] = (worker_arg_t){v, i};
        if (pthread_create(&th[i], NULL, worker, &args[i])) break;
        started = i;
    }
    args[0] = (worker_arg_t){v, 0};
    worker(&args[0]);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    dp_err_t err = DP_OK;
    for (size_t i = 0; i < v->nbatch; i++) {
        if (!err) err = merge(v, &v->batch[i]);
        free(v->batch[i].key);
    }
    v->nbatch = 0;
    return err;
}

/* on_listed: one object of the listing; a full batch is read at once */
static dp_err_t on_listed(void *ctx, const char *key, uint64_t size) {
    verify_t *v = ctx;
    item_t *it = &v->batch[v->nbatch++];
    memset(it, 0, sizeof *it);
    it->key = dp_xstrdup(key);
    it->size = size;
    v->listed++;
    v->bytes += size;
    progress(v, "s3://%s/%s/: %llu objects listed, %llu footers read", v->s.s3_bucket,
             v->s.topics_dir, (unsigned long long)v->listed,
             (unsigned long long)(v->listed - v->nbatch));
    return v->nbatch == BATCH ? run_batch(v) : DP_OK;
}

/* s3_scan: list topics.dir/ and summarize every object */
static dp_err_t s3_scan(verify_t *v) {
    char errstr[1024], prefix[1100];
    const char *url = v->s.store_url ? v->s.store_url : "aws";
    int retries = v->s.s3_retries < 2 ? (int)v->s.s3_retries : 2;
    dp_err_t err = archive_s3_client(&v->s, retries, &v->lister, errstr, sizeof errstr);
    v->workers = dp_xcalloc((size_t)v->parallel, sizeof *v->workers);
    v->tails = dp_xcalloc((size_t)v->parallel, sizeof *v->tails);
    for (int i = 0; !err && i < v->parallel; i++) {
        dp_buf_init(&v->tails[i], FOOTER_MAX);
        err = archive_s3_client(&v->s, retries, &v->workers[i], errstr, sizeof errstr);
    }
    if (err) return fail(v, err, "s3 at \"%s\": %s", url, errstr); /* STS, a credentials file */
    snprintf(prefix, sizeof prefix, "%s/", v->s.topics_dir);
    err = s3_list_objects(v->lister, prefix, on_listed, v, errstr, sizeof errstr);
    if (!err && v->nbatch) err = run_batch(v);
    for (size_t i = 0; i < v->nbatch; i++) free(v->batch[i].key);
    v->nbatch = 0;
    if (v->failed) return v->failed;
    if (err == DP_ERR_S3)
        return fail(v, DP_ERR_S3,
                    "s3 at \"%s\" refused to list \"%s\" (check s3.bucket.name and the "
                    "credentials): %s",
                    url, prefix, errstr);
    if (err) return fail(v, DP_ERR_NET, "s3 at \"%s\" did not answer: %s", url, errstr);
    return DP_OK;
}

/* ---- the report ---- */

/* obj_key: the key of object o, rebuilt from its summary */
static void obj_key(const verify_t *v, const vfy_object_t *o, char *out, size_t n) {
    if (o->odd_name)
        snprintf(out, n, "%s", vfy_strtab_get(&v->names, o->name));
    else
        snprintf(out, n, "%s/%s/%s+%d+%0*lld%s", v->s.topics_dir,
                 vfy_strtab_get(&v->names, o->name), vfy_strtab_get(&v->topics, o->topic),
                 o->partition, (int)v->s.filename_offset_zero_pad_width, (long long)o->start,
                 vfy_exts[o->ext]);
}

/* ---- rows (--against-postgres) ---- */

/* rows_check: every archived object read whole, one at a time, into the
 * rows state; then the live tables against it */
static dp_err_t rows_check(verify_t *v) {
    dp_buf_t body;
    dp_buf_init(&body, (size_t)1 << 31);
    char key[1600], errstr[1024];
    dp_err_t err = DP_OK;
    for (size_t i = 0; !err && i < v->nobjs; i++) {
        progress(v, "rows: reading object %zu of %zu", i + 1, v->nobjs);
        obj_key(v, &v->objs[i], key, sizeof key);
        dp_buf_reset(&body);
        err = s3_get_object(v->lister, key, &body, errstr, sizeof errstr);
        if (err == DP_ERR_S3 && strstr(errstr, "NoSuchKey")) {
            v->vanished++;
            err = DP_OK;
            continue;
        }
        if (err) {
            err = fail(v, err == DP_ERR_NOMEM ? DP_ERR_NOMEM : DP_ERR_NET, "reading \"%s\": %s",
                       key, errstr);
            break;
        }
        /* an object that cannot be read is a finding, not a stop */
        if (vfy_rows_object(v->rows, key, body.data, body.len, errstr, sizeof errstr))
            dp_debug(MOD, "%s", errstr);
    }
    dp_buf_fini(&body);
    if (err) return err;
    progress(v, "rows: reading the live tables");
    if ((err = vfy_rows_compare(v->rows, errstr, sizeof errstr)))
        return fail(v, err, "postgresql: %s", errstr);
    return DP_OK;
}

static const char *kind_name(vfy_gap_kind_t k) {
    return k == VFY_GAP_BETWEEN     ? "between"
        : k == VFY_GAP_BEFORE_FIRST ? "before_first"
                                    : "after_last";
}

static const char *unverified_reason(vfy_unverified_t u) {
    switch (u) {
    case VFY_UNV_BELOW_START: return "below the log start offset (retention removed them)";
    case VFY_UNV_ABOVE_HIGH: return "at or above the high watermark (was the topic recreated?)";
    case VFY_UNV_NO_PARTITION: return "kafka has no such topic-partition";
    case VFY_UNV_UNREAD: return "kafka did not deliver them (beyond the last stable offset)";
    case VFY_UNV_IN_FLIGHT:
        return "at or above the committed offset: the archive may be writing there";
    default: return "";
    }
}

static void json_str(dp_buf_t *b, const char *s) { dp_json_put_str(b, s, strlen(s)); }

static void json_off(dp_buf_t *b, int64_t v) {
    if (v < 0)
        dp_buf_puts(b, "null");
    else
        dp_buf_printf(b, "%lld", (long long)v);
}

/* report_json: the whole report as one JSON document */
static void report_json(verify_t *v, const vfy_plan_t *pl, const vfy_verdict_t *vd, FILE *out) {
    dp_buf_t b;
    dp_buf_init(&b, (size_t)1 << 30);
    char key[1600];
    int complete = vd->complete && (!v->rows || vfy_rows_complete(v->rows));
    dp_buf_printf(&b, "{\"complete\":%s,\"bucket\":", complete ? "true" : "false");
    json_str(&b, v->s.s3_bucket);
    dp_buf_puts(&b, ",\"prefix\":");
    snprintf(key, sizeof key, "%s/", v->s.topics_dir);
    json_str(&b, key);
    dp_buf_puts(&b, ",\"group\":");
    json_str(&b, v->group);
    dp_buf_puts(&b, ",\"topics\":[");
    for (size_t i = 0; i < v->nkafka_topics; i++) {
        if (i) dp_buf_putc(&b, ',');
        json_str(&b, vfy_strtab_get(&v->topics, (uint32_t)i));
    }
    dp_buf_putc(&b, ']');
    dp_buf_printf(&b,
                  ",\"objects\":{\"listed\":%llu,\"bytes\":%llu,\"archived\":%zu,\"foreign\":%zu,"
                  "\"vanished\":%llu},",
                  (unsigned long long)v->listed, (unsigned long long)v->bytes, v->nobjs,
                  v->foreign_total, (unsigned long long)v->vanished);
    dp_buf_printf(&b,
                  "\"counts\":{\"gaps\":%zu,\"missing_records\":%lld,\"overlaps\":%zu,"
                  "\"foreign\":%zu,\"unverified\":%zu},\"listed_limit\":%d,\"partitions\":[",
                  vd->gaps, (long long)vd->missing, vd->overlaps, vd->foreign, vd->unverified,
                  MAX_LISTED);
    for (size_t i = 0; i < pl->nparts; i++) {
        const vfy_part_t *p = &pl->parts[i];
        const vfy_facts_t *f = p->facts == VFY_NONE ? NULL : &v->facts[p->facts];
        dp_buf_puts(&b, i ? ",{\"topic\":" : "{\"topic\":");
        json_str(&b, vfy_strtab_get(&v->topics, p->topic));
        dp_buf_printf(&b, ",\"partition\":%d,\"in_kafka\":%s,\"objects\":%zu,\"first_offset\":",
                      p->partition, f ? "true" : "false", p->nobj);
        json_off(&b, p->first_offset);
        dp_buf_puts(&b, ",\"last_offset\":");
        json_off(&b, p->last_offset);
        dp_buf_puts(&b, ",\"log_start_offset\":");
        json_off(&b, f ? f->log_start : -1);
        dp_buf_puts(&b, ",\"high_watermark\":");
        json_off(&b, f ? f->high : -1);
        dp_buf_puts(&b, ",\"committed_offset\":");
        json_off(&b, f ? f->committed : -1);
        dp_buf_printf(&b, ",\"reaches_committed\":%s,\"offsets_behind\":%lld}",
                      p->reaches_committed < 0   ? "null"
                          : p->reaches_committed ? "true"
                                                 : "false",
                      (long long)p->behind);
    }
    dp_buf_puts(&b, "],\"gaps\":[");
    size_t listed = 0;
    for (size_t i = 0; i < pl->nranges && listed < MAX_LISTED; i++) {
        const vfy_range_t *r = &pl->ranges[i];
        if (r->unverified != VFY_UNV_NONE || !r->data) continue;
        dp_buf_puts(&b, listed++ ? ",{\"topic\":" : "{\"topic\":");
        json_str(&b, vfy_strtab_get(&v->topics, r->topic));
        dp_buf_printf(&b,
                      ",\"partition\":%d,\"kind\":\"%s\",\"from\":%lld,\"to\":%lld,"
                      "\"missing_records\":%lld,\"first_missing\":%lld,\"last_missing\":%lld,"
                      "\"after_object\":",
                      r->partition, kind_name(r->kind), (long long)r->from, (long long)r->to,
                      (long long)r->data, (long long)r->first_data, (long long)r->last_data);
        if (r->before == VFY_NONE)
            dp_buf_puts(&b, "null");
        else
            obj_key(v, &v->objs[r->before], key, sizeof key), json_str(&b, key);
        dp_buf_puts(&b, ",\"before_object\":");
        if (r->after == VFY_NONE)
            dp_buf_puts(&b, "null");
        else
            obj_key(v, &v->objs[r->after], key, sizeof key), json_str(&b, key);
        dp_buf_putc(&b, '}');
    }
    dp_buf_puts(&b, "],\"overlaps\":[");
    for (size_t i = 0; i < pl->noverlaps && i < MAX_LISTED; i++) {
        const vfy_overlap_t *ov = &pl->overlaps[i];
        const vfy_object_t *a = &v->objs[ov->a], *o2 = &v->objs[ov->b];
        dp_buf_puts(&b, i ? ",{\"topic\":" : "{\"topic\":");
        json_str(&b, vfy_strtab_get(&v->topics, a->topic));
        dp_buf_printf(&b, ",\"partition\":%d,\"from\":%lld,\"to\":%lld,\"objects\":[", a->partition,
                      (long long)ov->from, (long long)ov->to);
        obj_key(v, a, key, sizeof key);
        json_str(&b, key);
        dp_buf_putc(&b, ',');
        obj_key(v, o2, key, sizeof key);
        json_str(&b, key);
        dp_buf_puts(&b, "]}");
    }
    dp_buf_puts(&b, "],\"foreign\":[");
    for (size_t i = 0; i < v->nforeign; i++) {
        dp_buf_puts(&b, i ? ",{\"object\":" : "{\"object\":");
        json_str(&b, v->foreign[i].key);
        dp_buf_puts(&b, ",\"reason\":");
        json_str(&b, v->foreign[i].reason);
        dp_buf_putc(&b, '}');
    }
    dp_buf_puts(&b, "],\"unverified\":[");
    listed = 0;
    for (size_t i = 0; i < pl->nranges && listed < MAX_LISTED; i++) {
        const vfy_range_t *r = &pl->ranges[i];
        if (r->unverified == VFY_UNV_NONE) continue;
        dp_buf_puts(&b, listed++ ? ",{\"topic\":" : "{\"topic\":");
        json_str(&b, vfy_strtab_get(&v->topics, r->topic));
        dp_buf_printf(&b, ",\"partition\":%d,\"kind\":\"%s\",\"from\":%lld,\"to\":%lld,\"reason\":",
                      r->partition, kind_name(r->kind), (long long)r->from, (long long)r->to);
        json_str(&b, unverified_reason(r->unverified));
        dp_buf_putc(&b, '}');
    }
    dp_buf_puts(&b, "],\"rows\":");
    if (v->rows)
        vfy_rows_report_json(v->rows, &b);
    else
        dp_buf_puts(&b, "null");
    dp_buf_puts(&b, ",\"error\":null}\n");
    fputs(dp_buf_cstr(&b), out);
    dp_buf_fini(&b);
}

/* report_text: the human summary */
static void report_text(verify_t *v, const vfy_plan_t *pl, const vfy_verdict_t *vd, FILE *out) {
    char key[1600], key2[1600];
    fprintf(out, "archive   s3://%s/%s/ (group \"%s\", %s \"%s\")\n", v->s.s3_bucket,
            v->s.topics_dir, v->group, v->have_re ? "topics.regex" : "topics",
            v->have_re ? v->s.topics_regex : v->s.topics);
    if (!v->nkafka_topics) fprintf(out, "topics    none in kafka matches\n");
    for (size_t i = 0; i < v->nkafka_topics && i < 20; i++)
        fprintf(out, "%s\"%s\"%s", i ? ", " : "topics    ", vfy_strtab_get(&v->topics, (uint32_t)i),
                i + 1 == v->nkafka_topics ? "\n"
                    : i == 19             ? ", ...\n"
                                          : "");
    fprintf(out, "objects   %llu listed, %llu bytes: %zu archived, %zu foreign\n",
            (unsigned long long)v->listed, (unsigned long long)v->bytes, v->nobjs,
            v->foreign_total);
    for (size_t i = 0; i < pl->nparts; i++) {
        const vfy_part_t *p = &pl->parts[i];
        const vfy_facts_t *f = p->facts == VFY_NONE ? NULL : &v->facts[p->facts];
        fprintf(out, "partition \"%s\" [%d]: %zu object%s", vfy_strtab_get(&v->topics, p->topic),
                p->partition, p->nobj, p->nobj == 1 ? "" : "s");
        if (p->nobj)
            fprintf(out, ", offsets %lld..%lld", (long long)p->first_offset,
                    (long long)p->last_offset);
        if (!f) {
            fprintf(out, "; not in kafka\n");
            continue;
        }
        if (f->high > f->log_start)
            fprintf(out, "; kafka holds %lld..%lld", (long long)f->log_start,
                    (long long)f->high - 1);
        else
            fprintf(out, "; kafka holds nothing (end %lld)", (long long)f->high);
        if (f->committed < 0)
            fprintf(out, ", no committed offset");
        else
            fprintf(out, ", committed %lld (%s)", (long long)f->committed,
                    p->reaches_committed > 0        ? "reached"
                        : p->reaches_committed == 0 ? "NOT reached"
                                                    : "unverified");
        fprintf(out, ", %lld offset%s behind the high watermark\n", (long long)p->behind,
                p->behind == 1 ? "" : "s");
    }
    size_t listed = 0;
    for (size_t i = 0; i < pl->nranges && listed < MAX_LISTED; i++) {
        const vfy_range_t *r = &pl->ranges[i];
        if (r->unverified != VFY_UNV_NONE || !r->data) continue;
        listed++;
        fprintf(out,
                "gap       \"%s\" [%d] offsets %lld..%lld: %lld record%s missing (%lld..%lld), ",
                vfy_strtab_get(&v->topics, r->topic), r->partition, (long long)r->from,
                (long long)r->to, (long long)r->data, r->data == 1 ? "" : "s",
                (long long)r->first_data, (long long)r->last_data);
        if (r->kind == VFY_GAP_BETWEEN) {
            obj_key(v, &v->objs[r->before], key, sizeof key);
            obj_key(v, &v->objs[r->after], key2, sizeof key2);
            fprintf(out, "between \"%s\" and \"%s\"\n", key, key2);
        } else if (r->kind == VFY_GAP_BEFORE_FIRST) {
            const vfy_facts_t *f = NULL;
            for (size_t k = 0; k < v->nfacts && !f; k++)
                if (v->facts[k].topic == r->topic && v->facts[k].partition == r->partition)
                    f = &v->facts[k];
            obj_key(v, &v->objs[r->after], key, sizeof key);
            fprintf(out, "before the first object \"%s\" (kafka holds %lld..%lld)\n", key,
                    f ? (long long)f->log_start : -1LL, f ? (long long)f->high - 1 : -1LL);
        } else if (r->before != VFY_NONE) {
            obj_key(v, &v->objs[r->before], key, sizeof key);
            fprintf(out, "after the last object \"%s\", below the committed offset %lld\n", key,
                    (long long)r->to + 1);
        } else {
            fprintf(out, "in no object, below the committed offset %lld\n", (long long)r->to + 1);
        }
    }
    for (size_t i = 0; i < pl->noverlaps && i < MAX_LISTED; i++) {
        const vfy_overlap_t *ov = &pl->overlaps[i];
        obj_key(v, &v->objs[ov->a], key, sizeof key);
        obj_key(v, &v->objs[ov->b], key2, sizeof key2);
        fprintf(out, "overlap   \"%s\" [%d] offsets %lld..%lld are in \"%s\" and in \"%s\"\n",
                vfy_strtab_get(&v->topics, v->objs[ov->a].topic), v->objs[ov->a].partition,
                (long long)ov->from, (long long)ov->to, key, key2);
    }
    for (size_t i = 0; i < v->nforeign; i++)
        fprintf(out, "foreign   \"%s\": %s\n", v->foreign[i].key, v->foreign[i].reason);
    listed = 0;
    for (size_t i = 0; i < pl->nranges && listed < MAX_LISTED; i++) {
        const vfy_range_t *r = &pl->ranges[i];
        if (r->unverified == VFY_UNV_NONE) continue;
        listed++;
        fprintf(out, "unverified \"%s\" [%d] offsets %lld..%lld (%s): %s\n",
                vfy_strtab_get(&v->topics, r->topic), r->partition, (long long)r->from,
                (long long)r->to, kind_name(r->kind), unverified_reason(r->unverified));
    }
    if (vd->gaps > MAX_LISTED || vd->overlaps > MAX_LISTED || v->foreign_total > MAX_LISTED ||
        vd->unverified > MAX_LISTED)
        fprintf(out, "(at most %d findings of each kind are listed; --json has the counts)\n",
                MAX_LISTED);
    if (vd->complete)
        fprintf(out,
                "complete: every data record kafka holds below the archived ends and committed "
                "offsets is in exactly one object%s\n",
                vd->unverified ? " (some ranges could not be checked, see \"unverified\")" : "");
    else
        fprintf(out,
                "INCOMPLETE: %zu gap%s (%lld record%s missing), %zu overlap%s, "
                "%zu foreign object%s\n",
                vd->gaps, vd->gaps == 1 ? "" : "s", (long long)vd->missing,
                vd->missing == 1 ? "" : "s", vd->overlaps, vd->overlaps == 1 ? "" : "s",
                vd->foreign, vd->foreign == 1 ? "" : "s");
}

/* exit_code: 2 configuration, 3 a server that did not answer */
static int exit_code(dp_err_t err) {
    switch (err) {
    case DP_ERR_CONFIG:
    case DP_ERR_INVALID:
    case DP_ERR_NOMEM:
    case DP_ERR_S3: return 2;
    default: return 3;
    }
}

/* report_error: what stopped the run, on stderr, and as the JSON document */
static void report_error(const verify_t *v, int json, int rc, const char *msg) {
    fprintf(stderr, "datapipe verify: %s\n", msg);
    if (!json) return;
    dp_buf_t b;
    dp_buf_init(&b, 1 << 16);
    dp_buf_printf(&b, "{\"complete\":null,\"exit_code\":%d,\"error\":", rc);
    json_str(&b, msg);
    if (v && v->s.s3_bucket) {
        dp_buf_puts(&b, ",\"bucket\":");
        json_str(&b, v->s.s3_bucket);
    }
    dp_buf_puts(&b, "}\n");
    fputs(dp_buf_cstr(&b), stdout);
    dp_buf_fini(&b);
}

/* parse_count: a whole number in [lo, hi] for option name */
static int parse_count(const char *s, long long lo, long long hi, long long *out) {
    char *e = NULL;
    long long x = strtoll(s, &e, 10);
    if (!*s || *e || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

/* setup: everything from the configuration that can fail before a server is asked */
static dp_err_t setup(verify_t *v) {
    archive_settings_t *s = &v->s;
    if (s->topics_regex) {
        char pat[1200];
        snprintf(pat, sizeof pat, "^(%s)$", s->topics_regex);
        if (regcomp(&v->re, pat, REG_EXTENDED | REG_NOSUB))
            return fail(v, DP_ERR_CONFIG, "\"topics.regex\" \"%s\" is not a regular expression",
                        s->topics_regex);
        v->have_re = 1;
    }
    char errstr[512];
    if (vfy_path_shape(s->path_format, s->partition_duration_ms, v->shape, sizeof v->shape, errstr,
                       sizeof errstr))
        return fail(v, DP_ERR_CONFIG, "%s", errstr);
    snprintf(v->group, sizeof v->group, "connect-%s", s->name);
    return DP_OK;
}

static void verify_free(verify_t *v) {
    /* it never joined the group: nothing to leave, nothing to wait for */
    if (v->rk) rd_kafka_destroy_flags(v->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (v->have_re) regfree(&v->re);
    s3_client_destroy(v->lister);
    for (int i = 0; v->workers && i < v->parallel; i++) s3_client_destroy(v->workers[i]);
    for (int i = 0; v->tails && i < v->parallel; i++) dp_buf_fini(&v->tails[i]);
    free(v->workers);
    free(v->tails);
    free(v->facts);
    free(v->objs);
    for (size_t i = 0; i < v->nforeign; i++) free(v->foreign[i].key), free(v->foreign[i].reason);
    free(v->foreign);
    vfy_strtab_fini(&v->topics);
    vfy_strtab_fini(&v->names);
    pthread_mutex_destroy(&v->mu);
    vfy_rows_close(v->rows);
    cfg_free(&archive_config_table, &v->s);
}

int verify_main(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"parallel", required_argument, NULL, 'p'},
                                         {"max-objects", required_argument, NULL, 'm'},
                                         {"against-postgres", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *against = NULL;
    int json = 0, o;
    long long parallel = DEFAULT_PARALLEL, max_objects = DEFAULT_MAX_OBJECTS;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:s:jp:m:h", opts, NULL)) != -1) {
        if (o == 'c')
            config = optarg;
        else if (o == 'j')
            json = 1;
        else if (o == 's')
            continue; /* applied after the file, in order */
        else if (o == 'p' && !parse_count(optarg, 1, 64, &parallel))
            continue;
        else if (o == 'm' && !parse_count(optarg, 1, 1LL << 40, &max_objects))
            continue;
        else if (o == 'P')
            against = optarg;
        else {
            if (o == 'p' || o == 'm')
                fprintf(stderr, "datapipe verify: invalid --%s \"%s\"\n",
                        o == 'p' ? "parallel" : "max-objects", optarg);
            fputs(usage_text, o == 'h' ? stdout : stderr);
            return o == 'h' ? 0 : 2;
        }
    }
    if (!config || optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    dp_log_level = DP_LOG_ERROR;
    verify_t *v = dp_xcalloc(1, sizeof *v);
    pthread_mutex_init(&v->mu, NULL);
    vfy_strtab_init(&v->topics);
    vfy_strtab_init(&v->names);
    v->tty = isatty(2);
    v->parallel = (int)parallel;
    v->max_objects = max_objects;
    char errstr[1024] = "";
    dp_err_t err = cfg_load(&archive_config_table, &v->s, config, errstr, sizeof errstr);
    optind = 1;
    while (!err && (o = getopt_long(argc, argv, "c:s:jp:m:h", opts, NULL)) != -1) {
        if (o != 's') continue;
        char *eq = strchr(optarg, '=');
        if (!eq) {
            err = dp_seterr(errstr, sizeof errstr, DP_ERR_CONFIG,
                            "--set \"%s\": expected KEY=VALUE", optarg);
            break;
        }
        *eq = 0;
        err = cfg_set_ref(&archive_config_table, &v->s, optarg, eq + 1, "--set", errstr,
                          sizeof errstr);
        *eq = '=';
    }
    if (!err) err = cfg_finish(&archive_config_table, &v->s, errstr, sizeof errstr);
    if (err) fail(v, DP_ERR_CONFIG, "%s", errstr);
    if (!err && strcmp(v->s.svc.log_level, "debug") == 0) dp_log_level = DP_LOG_DEBUG;
    if (!err) err = setup(v);
    if (!err && against) {
        err = vfy_rows_open(&v->rows, against, errstr, sizeof errstr);
        if (err) fail(v, err, "%s", errstr);
    }
    int64_t t0 = dp_mono_ms();
    if (!err) err = kafka_open(v);
    if (!err) err = kafka_facts(v);
    if (!err)
        dp_debug(MOD, "kafka: %zu partitions in %lld ms", v->nfacts,
                 (long long)(dp_mono_ms() - t0));
    if (!err) err = s3_scan(v);
    if (!err)
        dp_debug(MOD, "s3: %llu objects listed and read at %lld ms", (unsigned long long)v->listed,
                 (long long)(dp_mono_ms() - t0));
    vfy_plan_t pl;
    memset(&pl, 0, sizeof pl);
    vfy_verdict_t vd;
    memset(&vd, 0, sizeof vd);
    if (!err) {
        vfy_plan_build(&pl, v->objs, v->nobjs, v->facts, v->nfacts);
        err = kafka_check(v, &pl);
        dp_debug(MOD, "kafka: %zu ranges read at %lld ms", pl.nranges,
                 (long long)(dp_mono_ms() - t0));
    }
    if (!err && v->rows) err = rows_check(v);
    progress_clear(v);
    int rc;
    if (err) {
        rc = exit_code(v->failed ? v->failed : err);
        report_error(v, json, rc, v->errstr);
    } else {
        vfy_plan_finish(&pl, v->facts, v->foreign_total, &vd);
        if (json)
            report_json(v, &pl, &vd, stdout);
        else
            report_text(v, &pl, &vd, stdout);
        if (v->rows && !json) vfy_rows_report_text(v->rows, stdout);
        rc = vd.complete && (!v->rows || vfy_rows_complete(v->rows)) ? 0 : 1;
    }
    fflush(stdout);
    vfy_plan_fini(&pl);
    verify_free(v);
    free(v);
    return rc;
}
