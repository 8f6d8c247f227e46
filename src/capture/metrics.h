/* metrics.h - capture's Prometheus metrics and health (see
 * common/metrics.h), fed by a few calls from the capture loop. */
#ifndef DP_CAPTURE_METRICS_H
#define DP_CAPTURE_METRICS_H

#include <stdint.h>

#include "capture/capture.h"

typedef struct capture_metrics capture_metrics_t;

/* what the loop knows, handed over on each tick */
typedef struct capture_metrics_state {
    uint64_t confirmed_lsn, received_lsn;
    int64_t inflight, inflight_bytes;
    uint64_t txns, tombstones;
    int delivery_failed;
    const char *delivery_err;
    const char *waiting_for; /* what capture waits for (health 503 says it), NULL */
    uint64_t reconnects; /* to PostgreSQL, after the connection was lost */
    int snapshot; /* a snapshot is being read: healthy, with its progress */
    uint64_t snapshot_rows; /* rows sent so far */
} capture_metrics_state_t;

/* capture_metrics_new: the registry, and when datapipe.metrics.port is not
 * 0 the HTTP endpoint on datapipe.metrics.host. NULL on failure (errstr
 * names host:port). Health is 503 "starting" until the first tick.
 * capture_metrics_destroy(NULL) is a no-op; it stops the endpoint. */
capture_metrics_t *capture_metrics_new(const capture_settings_t *s, char *errstr,
                                       size_t errstr_size);
void capture_metrics_destroy(capture_metrics_t *cm);

/* capture_metrics_event: one event of schema.table with op (c, u, d, t, r)
 * handed to Kafka lag_ms after its commit. NULL cm is a no-op, as for
 * every call below. */
void capture_metrics_event(capture_metrics_t *cm, const char *schema, const char *table, char op,
                           int64_t lag_ms);
/* capture_metrics_wal_end: the server's WAL end from a keepalive or an
 * XLogData header. */
void capture_metrics_wal_end(capture_metrics_t *cm, uint64_t wal_end);
void capture_metrics_delivery_error(capture_metrics_t *cm);
/* capture_metrics_tick: gauges from st, once a second at most; health 200
 * while streaming, 503 once delivery failed or while it waits for a
 * server (the reason names it). */
void capture_metrics_tick(capture_metrics_t *cm, int64_t now_us, const capture_metrics_state_t *st);
/* capture_metrics_stopping: health 503 "stopping" (or still the delivery
 * failure that stopped it) */
void capture_metrics_stopping(capture_metrics_t *cm);

#endif
