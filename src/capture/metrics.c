/* metrics.c - capture's metric families: datapipe_capture_* and the
 * seed's cdc_events_per_second. */
#include "capture/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

struct capture_metrics {
    dp_metrics_t *reg;
    dp_metrics_server_t *srv;
    dp_metric_t *events;
    dp_metric_series_t *tombstones, *txns, *lag_bytes, *lag_ms, *confirmed, *delivery_errors,
        *queue_events, *queue_bytes, *pg_connected, *reconnects;
    uint64_t wal_end;
    int64_t next_tick_us;
    /* direct-mapped cache of events series, so the hot path skips the
     * registry's lookup: (schema, table, op) -> series */
    struct {
        char schema[128], table[128];
        char op;
        dp_metric_series_t *s;
    } cache[256];
    int health; /* last published: 0 starting, 1 ok, 2 delivery failed, 3 stopping, 4 waiting,
                   5 reading a snapshot */
    char waiting[256]; /* the reason published with health 4 */
};

capture_metrics_t *capture_metrics_new(const capture_settings_t *s, char *errstr, size_t n) {
    capture_metrics_t *cm = dp_xcalloc(1, sizeof *cm);
    dp_metrics_t *r = cm->reg = dp_metrics_new(0);
    static const char *const tl[] = {"table", "operation"};
    cm->events = dp_metric_counter(
        r, "datapipe_capture_events_total",
        "Change events handed to Kafka, by <schema>.<table> and op (c, u, d, t).", 2, tl);
    dp_metric_rate(
        r, "cdc_events_per_second",
        "Change events per second over the last 10 s, by table and operation (the seed's name).",
        cm->events);
#define G(name, help) dp_metric_series(dp_metric_gauge(r, name, help, 0, NULL), NULL)
#define C(name, help) dp_metric_series(dp_metric_counter(r, name, help, 0, NULL), NULL)
    cm->tombstones = C("datapipe_capture_tombstones_total", "Tombstones sent after deletes.");
    cm->txns = C("datapipe_capture_transactions_total", "Transactions decoded from the slot.");
    cm->delivery_errors = C("datapipe_capture_kafka_delivery_errors_total",
                            "Events Kafka failed to deliver (each stops capture).");
    cm->lag_bytes = G("datapipe_capture_lag_bytes",
                      "Server WAL end (from keepalives) minus the LSN confirmed to PostgreSQL.");
    cm->lag_ms = G("datapipe_capture_lag_ms",
                   "Milliseconds between the last event's commit and capture handing it to Kafka.");
    cm->confirmed =
        G("datapipe_capture_confirmed_lsn", "LSN confirmed to PostgreSQL (flushed), as a number.");
    cm->queue_events =
        G("datapipe_capture_queue_events", "Events handed to Kafka, not yet acknowledged.");
    cm->queue_bytes = G("datapipe_capture_queue_bytes", "Bytes of those events.");
    cm->pg_connected = G("datapipe_capture_postgres_connected",
                         "1 while the replication connection streams, 0 while capture reconnects.");
    cm->reconnects = C("datapipe_capture_postgres_reconnects_total",
                       "Times capture connected to PostgreSQL again after losing the connection.");
#undef G
#undef C
    if (s->svc.metrics_port > 0) {
        cm->srv = dp_metrics_server_start(cm->reg, s->svc.metrics_host, (int)s->svc.metrics_port,
                                          errstr, n);
        if (!cm->srv) {
            capture_metrics_destroy(cm);
            return NULL;
        }
    }
    return cm;
}

void capture_metrics_destroy(capture_metrics_t *cm) {
    if (!cm) return;
    dp_metrics_server_stop(cm->srv);
    dp_metrics_destroy(cm->reg);
    free(cm);
}

void capture_metrics_event(capture_metrics_t *cm, const char *schema, const char *table, char op,
                           int64_t lag_ms) {
    if (!cm) return;
    if (lag_ms >= 0) dp_metric_set(cm->lag_ms, (double)lag_ms);
    uint32_t h = 2166136261u ^ (unsigned char)op;
    for (const char *p = table; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = schema; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ (h >> 16)) % (sizeof cm->cache / sizeof cm->cache[0]);
    if (cm->cache[h].s && cm->cache[h].op == op && strcmp(cm->cache[h].table, table) == 0 &&
        strcmp(cm->cache[h].schema, schema) == 0) {
        dp_metric_inc(cm->cache[h].s);
        return;
    }
    char name[300], ops[2] = {op, 0};
    snprintf(name, sizeof name, "%s.%s", schema, table);
    const char *v[2] = {name, ops};
    dp_metric_series_t *s = dp_metric_series(cm->events, v);
    dp_metric_inc(s);
    if (strlen(schema) >= sizeof cm->cache[h].schema || strlen(table) >= sizeof cm->cache[h].table)
        return; /* too long to cache: always looked up */
    snprintf(cm->cache[h].schema, sizeof cm->cache[h].schema, "%s", schema);
    snprintf(cm->cache[h].table, sizeof cm->cache[h].table, "%s", table);
    cm->cache[h].op = op;
    cm->cache[h].s = s;
}

void capture_metrics_wal_end(capture_metrics_t *cm, uint64_t wal_end) {
    if (cm && wal_end > cm->wal_end) cm->wal_end = wal_end;
}

void capture_metrics_delivery_error(capture_metrics_t *cm) {
    if (cm) dp_metric_inc(cm->delivery_errors);
}

void capture_metrics_tick(capture_metrics_t *cm, int64_t now_us,
                          const capture_metrics_state_t *st) {
    if (!cm) return;
    int health = st->delivery_failed ? 2 : st->waiting_for ? 4 : st->snapshot ? 5 : 1;
    if (health != cm->health ||
        (health == 4 && strncmp(cm->waiting, st->waiting_for, sizeof cm->waiting - 1) != 0) ||
        (health == 5 && now_us >= cm->next_tick_us)) {
        cm->health = health;
        if (st->delivery_failed) {
            char reason[600];
            snprintf(reason, sizeof reason, "kafka delivery failed: %s",
                     st->delivery_err ? st->delivery_err : "");
            dp_metrics_set_health(cm->reg, 0, reason);
        } else if (health == 4) {
            snprintf(cm->waiting, sizeof cm->waiting, "%s", st->waiting_for);
            dp_metrics_set_health(cm->reg, 0, cm->waiting);
        } else if (health == 5) {
            /* a long snapshot is alive and moving: a liveness probe must not kill it */
            char progress[96];
            snprintf(progress, sizeof progress, "snapshot in progress, %llu rows sent",
                     (unsigned long long)st->snapshot_rows);
            dp_metrics_set_health(cm->reg, 1, progress);
        } else {
            dp_metrics_set_health(cm->reg, 1, NULL);
        }
        dp_metric_set(cm->pg_connected, health == 4 ? 0.0 : 1.0);
    }
    if (now_us < cm->next_tick_us) return;
    cm->next_tick_us = now_us + 250000;
    dp_metrics_tick(cm->reg, now_us / 1000);
    uint64_t end = cm->wal_end > st->received_lsn ? cm->wal_end : st->received_lsn;
    dp_metric_set(cm->lag_bytes, end > st->confirmed_lsn ? (double)(end - st->confirmed_lsn) : 0.0);
    dp_metric_set(cm->confirmed, (double)st->confirmed_lsn);
    dp_metric_set(cm->queue_events, (double)st->inflight);
    dp_metric_set(cm->queue_bytes, (double)st->inflight_bytes);
    dp_metric_set(cm->txns, (double)st->txns);
    dp_metric_set(cm->tombstones, (double)st->tombstones);
    dp_metric_set(cm->reconnects, (double)st->reconnects);
}

void capture_metrics_stopping(capture_metrics_t *cm) {
    if (!cm || cm->health == 2) return; /* a delivery failure keeps its reason */
    cm->health = 3;
    dp_metrics_set_health(cm->reg, 0, "stopping");
}
