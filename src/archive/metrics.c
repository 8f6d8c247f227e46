/* metrics.c - archive's metric families: datapipe_archive_* and the
 * seed's kafka_consumer_lag and s3_upload_success_rate. */
#include "archive/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/metrics.h"

struct archive_metrics {
    dp_metrics_t *reg;
    dp_metrics_server_t *srv;
    dp_metric_t *lag;
    dp_metric_series_t *files, *rows, *bytes, *latency, *ok, *error, *success, *records,
        *tombstones, *dlq, *breaker;
    atomic_int ready, failing, kafka_down;
    pthread_mutex_t mu; /* orders health updates from the tasks */
    char kafka_reason[256]; /* what /health says while kafka_down */
    atomic_int breaker_state[ARCHIVE_MAX_TASKS]; /* per task; the gauge shows the worst */
};

archive_metrics_t *archive_metrics_new(const archive_settings_t *s, char *errstr, size_t n) {
    archive_metrics_t *am = dp_xcalloc(1, sizeof *am);
    pthread_mutex_init(&am->mu, NULL);
    dp_metrics_t *r = am->reg = dp_metrics_new(0);
#define G(name, help) dp_metric_series(dp_metric_gauge(r, name, help, 0, NULL), NULL)
#define C(name, help) dp_metric_series(dp_metric_counter(r, name, help, 0, NULL), NULL)
    am->files = C("datapipe_archive_files_uploaded_total", "Parquet files uploaded to S3.");
    am->rows = C("datapipe_archive_rows_uploaded_total", "Rows in the files uploaded.");
    am->bytes = C("datapipe_archive_bytes_uploaded_total", "Bytes of the files uploaded.");
    static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                    1,     2.5,  5,     10,   30,  60,   120};
    am->latency = dp_metric_series(
        dp_metric_histogram(r, "datapipe_archive_upload_duration_seconds",
                            "Time to finish a file and complete its upload, in seconds.", 0, NULL,
                            bounds, sizeof bounds / sizeof bounds[0]),
        NULL);
    static const char *const cl[] = {"connector", "bucket", "result"};
    dp_metric_t *uploads = dp_metric_counter(r, "datapipe_archive_uploads_total",
                                             "File uploads by result (ok, error).", 3, cl);
    const char *okv[] = {s->name, s->s3_bucket, "ok"}, *errv[] = {s->name, s->s3_bucket, "error"};
    am->ok = dp_metric_series(uploads, okv);
    am->error = dp_metric_series(uploads, errv);
    am->success = dp_metric_series(
        dp_metric_counter(
            r, "s3_upload_success_rate",
            "Successful file uploads (the seed's name; the success ratio is "
            "rate(s3_upload_success_rate[5m]) / rate(datapipe_archive_uploads_total[5m])).",
            2, cl),
        okv);
    static const char *const tp[] = {"topic", "partition"};
    am->lag = dp_metric_gauge(r, "kafka_consumer_lag",
                              "Records behind the high watermark, by topic and partition (the "
                              "seed's name).",
                              2, tp);
    am->records = C("datapipe_archive_records_total", "Kafka records consumed.");
    am->tombstones = C("datapipe_archive_tombstones_total", "Tombstones (null values) skipped.");
    am->dlq = C("datapipe_archive_dlq_records_total",
                "Records that could not be converted, sent to the dead-letter topic.");
    am->breaker =
        G("datapipe_archive_breaker_state", "S3 circuit breaker: 0 closed, 1 open, 2 half-open.");
#undef G
#undef C
    if (s->svc.metrics_port > 0) {
        am->srv = dp_metrics_server_start(am->reg, s->svc.metrics_host, (int)s->svc.metrics_port,
                                          errstr, n);
        if (!am->srv) {
            archive_metrics_destroy(am);
            return NULL;
        }
    }
    return am;
}

void archive_metrics_destroy(archive_metrics_t *am) {
    if (!am) return;
    dp_metrics_server_stop(am->srv);
    dp_metrics_destroy(am->reg);
    pthread_mutex_destroy(&am->mu);
    free(am);
}

/* health: 503 while Kafka is unreachable or an upload failed, else 200
 * once consuming; under mu, so that two tasks never leave a stale answer */
static void health(archive_metrics_t *am) {
    if (!atomic_load(&am->ready)) return; /* "starting" until ready */
    if (atomic_load(&am->kafka_down)) {
        dp_metrics_set_health(am->reg, 0, am->kafka_reason);
    } else if (atomic_load(&am->failing)) {
        dp_metrics_set_health(am->reg, 0,
                              "paused: an S3 upload failed; consumption resumes after a backoff");
    } else {
        dp_metrics_set_health(am->reg, 1, NULL);
    }
}

void archive_metrics_ready(archive_metrics_t *am) {
    if (!am) return;
    pthread_mutex_lock(&am->mu);
    atomic_store(&am->ready, 1);
    health(am);
    pthread_mutex_unlock(&am->mu);
}

void archive_metrics_kafka(archive_metrics_t *am, int ok, const char *reason) {
    if (!am) return;
    pthread_mutex_lock(&am->mu);
    if (!ok) snprintf(am->kafka_reason, sizeof am->kafka_reason, "%s", reason ? reason : "");
    atomic_store(&am->kafka_down, !ok);
    health(am);
    pthread_mutex_unlock(&am->mu);
}

void archive_metrics_upload(archive_metrics_t *am, int ok, uint64_t rows, uint64_t bytes,
                            int64_t elapsed_us) {
    if (!am) return;
    if (!ok) dp_metric_inc(am->error);
    if (atomic_exchange(&am->failing, !ok) != !ok) {
        pthread_mutex_lock(&am->mu);
        health(am);
        pthread_mutex_unlock(&am->mu);
    }
    if (!ok) return;
    dp_metric_inc(am->ok);
    dp_metric_inc(am->success);
    dp_metric_inc(am->files);
    dp_metric_add(am->rows, rows);
    dp_metric_add(am->bytes, bytes);
    dp_metric_observe(am->latency, (double)elapsed_us / 1e6);
}

void archive_metrics_counts(archive_metrics_t *am, uint64_t records, uint64_t tombstones,
                            uint64_t dlq) {
    if (!am) return;
    dp_metric_add(am->records, records);
    dp_metric_add(am->tombstones, tombstones);
    dp_metric_add(am->dlq, dlq);
}

void archive_metrics_partition(archive_metrics_t *am, rd_kafka_t *rk, const char *topic,
                               int32_t partition, int64_t next) {
    if (!am) return;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", partition);
    const char *v[2] = {topic, ps};
    if (next < 0) {
        dp_metric_remove(am->lag, v);
        return;
    }
    int64_t lo, hi;
    if (rd_kafka_get_watermark_offsets(rk, topic, partition, &lo, &hi) || hi < 0) return;
    dp_metric_set(dp_metric_series(am->lag, v), (double)(hi > next ? hi - next : 0));
}

void archive_metrics_breaker(archive_metrics_t *am, int task, int state) {
    if (!am || task < 0 || task >= ARCHIVE_MAX_TASKS) return;
    atomic_store(&am->breaker_state[task], state);
    /* open (1) is worse than half-open (2), which is worse than closed (0) */
    int worst = 0;
    for (int i = 0; i < ARCHIVE_MAX_TASKS; i++) {
        int st = atomic_load(&am->breaker_state[i]);
        if (st == 1 || (st == 2 && worst == 0)) worst = st;
    }
    dp_metric_set(am->breaker, (double)worst);
}
