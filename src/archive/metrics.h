/* metrics.h - archive's Prometheus metrics and health (see
 * common/metrics.h), fed by a few calls from the archive loop. */
#ifndef DP_ARCHIVE_METRICS_H
#define DP_ARCHIVE_METRICS_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "archive/archive.h"

typedef struct archive_metrics archive_metrics_t;

/* archive_metrics_new: the registry, and when datapipe.metrics.port is not
 * 0 the HTTP endpoint on datapipe.metrics.host. NULL on failure (errstr
 * names host:port). Health is 503 "starting" until archive_metrics_ready.
 * archive_metrics_destroy(NULL) is a no-op; it stops the endpoint. */
archive_metrics_t *archive_metrics_new(const archive_settings_t *s, char *errstr,
                                       size_t errstr_size);
void archive_metrics_destroy(archive_metrics_t *am);

/* archive_metrics_ready: consuming; health 200. NULL am is a no-op, as for
 * every call below. */
void archive_metrics_ready(archive_metrics_t *am);
/* archive_metrics_upload: one file's upload finished: ok, or failed (then
 * consumption pauses and health is 503 until an upload succeeds). */
void archive_metrics_upload(archive_metrics_t *am, int ok, uint64_t rows, uint64_t bytes,
                            int64_t elapsed_us);
/* archive_metrics_kafka: the cluster answers us (ok), or not: then health
 * is 503 with reason (truncated to 255 bytes) until the next ok. */
void archive_metrics_kafka(archive_metrics_t *am, int ok, const char *reason);
/* archive_metrics_counts: add one task's records, tombstones and DLQ
 * records since its last call (tasks run in threads and share the
 * registry; every call here is thread-safe). */
void archive_metrics_counts(archive_metrics_t *am, uint64_t records, uint64_t tombstones,
                            uint64_t dlq);
/* archive_metrics_partition: consumer lag of topic [partition]: the high
 * watermark librdkafka last saw in a fetch (cached, never a request) minus
 * next, the next offset to process. next < 0: no longer assigned. */
void archive_metrics_partition(archive_metrics_t *am, rd_kafka_t *rk, const char *topic,
                               int32_t partition, int64_t next);
/* archive_metrics_breaker: task's S3 breaker is 0 closed, 1 open, 2
 * half-open; the gauge shows the worst state of any task. */
void archive_metrics_breaker(archive_metrics_t *am, int task, int state);

#endif
