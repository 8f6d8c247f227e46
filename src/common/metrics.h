/* metrics.h - Prometheus metrics: counters, gauges and histograms with
 * label sets, rendered in the text exposition format 0.0.4, and a tiny
 * HTTP/1.1 server thread for GET /metrics and GET /health.
 *
 * A registry (dp_metrics_t) holds families (dp_metric_t), each with a
 * fixed list of label names (at most DP_METRIC_MAX_LABELS). A family's
 * series (dp_metric_series_t) are created on first use of a label-value
 * tuple. The number of series in a registry is bounded: past the bound,
 * dp_metric_series() returns the family's overflow series (every label
 * value "overflow") and logs one warning per family. Label values are
 * escaped as the format requires (backslash, double quote, newline);
 * callers never pass secrets as label values.
 *
 * Threads: families are declared and series looked up by the service
 * thread; values are updated with C11 atomics, so the HTTP thread reads
 * them without stopping the hot path. Series creation and rendering share
 * one mutex. Hot paths may keep the series pointer: it lives as long as
 * the registry (dp_metric_remove only hides it). */
#ifndef DP_COMMON_METRICS_H
#define DP_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define DP_METRIC_MAX_LABELS 4
#define DP_METRIC_MAX_BUCKETS 24
#define DP_METRICS_DEFAULT_MAX_SERIES 10000
/* a rate family (dp_metric_rate) averages over this many seconds */
#define DP_METRIC_RATE_WINDOW_S 10

typedef enum { DP_METRIC_COUNTER, DP_METRIC_GAUGE, DP_METRIC_HISTOGRAM } dp_metric_type_t;

typedef struct dp_metrics dp_metrics_t;
typedef struct dp_metric dp_metric_t;
typedef struct dp_metric_series dp_metric_series_t;
typedef struct dp_metrics_server dp_metrics_server_t;

/* dp_metrics_new: an empty registry of at most max_series series (0 means
 * DP_METRICS_DEFAULT_MAX_SERIES). dp_metrics_destroy(NULL) is a no-op. */
dp_metrics_t *dp_metrics_new(size_t max_series);
void dp_metrics_destroy(dp_metrics_t *m);

/* dp_metric_counter / _gauge / _histogram: declare a family. name and the
 * label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':');
 * they and help are copied. A histogram takes nbounds strictly increasing
 * upper bounds (the +Inf bucket is implicit). Returns NULL on a bad name,
 * too many labels or buckets, or a name already declared. */
dp_metric_t *dp_metric_counter(dp_metrics_t *m, const char *name, const char *help, size_t nlabels,
                               const char *const *labels);
dp_metric_t *dp_metric_gauge(dp_metrics_t *m, const char *name, const char *help, size_t nlabels,
                             const char *const *labels);
dp_metric_t *dp_metric_histogram(dp_metrics_t *m, const char *name, const char *help,
                                 size_t nlabels, const char *const *labels, const double *bounds,
                                 size_t nbounds);
/* dp_metric_rate: a gauge family rendered from counter family src (same
 * labels): per series, the increase per second over the last
 * DP_METRIC_RATE_WINDOW_S seconds, as sampled by dp_metrics_tick. */
dp_metric_t *dp_metric_rate(dp_metrics_t *m, const char *name, const char *help, dp_metric_t *src);

/* dp_metric_series: the series of family f for the label values (exactly
 * as many as f has labels; NULL when it has none). Created on first use;
 * past the registry's bound, the family's overflow series. Never NULL for
 * a non-NULL f; f NULL gives NULL, and every update below ignores NULL. */
dp_metric_series_t *dp_metric_series(dp_metric_t *f, const char *const *values);
/* dp_metric_remove: stop exporting the series of those label values (a
 * partition revoked, say). A later dp_metric_series brings it back. */
void dp_metric_remove(dp_metric_t *f, const char *const *values);

/* counters: add (non-negative); set is for counters mirrored from a
 * monotonic total the service keeps anyway */
void dp_metric_add(dp_metric_series_t *s, uint64_t v);
static inline void dp_metric_inc(dp_metric_series_t *s) { dp_metric_add(s, 1); }
/* gauges (and dp_metric_set on a counter: set its value) */
void dp_metric_set(dp_metric_series_t *s, double v);
/* histograms */
void dp_metric_observe(dp_metric_series_t *s, double v);
/* dp_metric_value: the current value (count of a histogram). */
double dp_metric_value(const dp_metric_series_t *s);

/* dp_metrics_tick: sample the counters that rate families read; call it
 * from the service loop (cheap when called more often than once a second). */
void dp_metrics_tick(dp_metrics_t *m, int64_t now_ms);

/* dp_metrics_render: every family, in declaration order, in the text
 * exposition format 0.0.4 (# HELP, # TYPE, then its series) into out.
 * DP_ERR_NOMEM if out's maximum is reached. */
dp_err_t dp_metrics_render(dp_metrics_t *m, dp_buf_t *out);

/* dp_metrics_set_health: /health answers 200 "ok" when ok ("ok: <reason>"
 * with a reason, e.g. progress), else 503 with reason (copied, truncated to
 * 255 bytes). A new registry is unhealthy
 * with reason "starting". */
void dp_metrics_set_health(dp_metrics_t *m, int ok, const char *reason);
/* dp_metrics_health: 1 when healthy; the reason is copied into reason. */
int dp_metrics_health(dp_metrics_t *m, char *reason, size_t reason_size);

/* dp_metrics_handle: answer one raw HTTP request (the bytes up to and
 * including the blank line) into out: status line, headers, body.
 * GET or HEAD /metrics and /health; 404 for other paths, 405 for other
 * methods, 400 for a malformed request. out's maximum must leave room for
 * the rendered metrics (the server allows 64 MiB). Used by the server;
 * exposed for tests. */
void dp_metrics_handle(dp_metrics_t *m, const char *req, size_t len, dp_buf_t *out);

/* dp_metrics_server_start: listen on host:port (host "" means 127.0.0.1)
 * and serve m from a thread until dp_metrics_server_stop. m must outlive
 * the server. Requests larger than 8 KiB get 431; a connection that sends
 * or reads nothing for 5 s is closed. Fails naming host:port. */
dp_metrics_server_t *dp_metrics_server_start(dp_metrics_t *m, const char *host, int port,
                                             char *errstr, size_t errstr_size);
/* dp_metrics_server_port: the bound port (useful when started on port 0). */
int dp_metrics_server_port(const dp_metrics_server_t *srv);
/* dp_metrics_server_stop: stop the thread, close the socket, free;
 * NULL is a no-op. */
void dp_metrics_server_stop(dp_metrics_server_t *srv);

#endif
