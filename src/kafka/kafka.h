/* kafka.h - librdkafka set-up shared by capture and archive. */
#ifndef DP_KAFKA_KAFKA_H
#define DP_KAFKA_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "common/config.h"
#include "common/err.h"

/* kfk_conf_new: a librdkafka configuration with datapipe's defaults
 * (defaults[] as "key", "value" pairs, NULL-terminated) overridden by the
 * user's kafka.* pass-through keys. An invalid key or value fails naming
 * it as "kafka.<key>". forced[] pairs (NULL-terminated, may be NULL) must
 * keep their value: a user override to anything else is an error. */
rd_kafka_conf_t *kfk_conf_new(const char *const *defaults, const char *const *forced,
                              const cfg_kv_t *user, char *errstr, size_t errstr_size);

/* kfk_new: a client of type made from conf (which it owns from then on,
 * also on failure); NULL with errstr "kafka <what>: <librdkafka's reason>". */
rd_kafka_t *kfk_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, char *errstr,
                    size_t errstr_size);

/* kfk_topic_partitions: one metadata request for topic: *parts its
 * partition count, 0 if the cluster says it does not exist (or has no
 * partitions yet). DP_ERR_NET when the request failed (a timeout, no
 * broker), DP_ERR_CONFIG when this principal may not describe it. A
 * producer whose allow.auto.create.topics is true asks the broker to
 * create a missing topic on the way. */
dp_err_t kfk_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *parts,
                              char *errstr, size_t errstr_size);

/* kfk_unreachable: err, reported by a client's error callback, means the
 * cluster cannot be reached or refuses us (all brokers down, TLS
 * handshake, SASL authentication), as opposed to one request's failure. */
int kfk_unreachable(int err);
/* kfk_describe: reason as librdkafka gave it, plus the keys to check when
 * err is an authentication or TLS failure. */
void kfk_describe(int err, const char *reason, char *out, size_t out_size);

/* kfk_err: map a librdkafka error to ours (retriable or fatal). */
dp_err_t kfk_err(rd_kafka_resp_err_t err);
/* kfk_producer_restart_heals: err, as a record's delivery failure, comes
 * from a broken producer state or a Kafka outage that a new producer
 * heals (1), not from the record itself (0: too large, not authorized) */
int kfk_producer_restart_heals(rd_kafka_resp_err_t err);

/* kfk_wakeup: a descriptor that turns readable when rk's main queue
 * (delivery reports, errors) gets an event while empty, so that a loop
 * waits once, with poll(), on it and on its own sockets; rd_kafka_poll(rk,
 * 0) then serves the events. */
typedef struct kfk_wakeup {
    rd_kafka_queue_t *q;
    int fd[2]; /* fd[0] is polled */
} kfk_wakeup_t;

/* kfk_wakeup_init: DP_OK, or DP_ERR_IO with the reason */
dp_err_t kfk_wakeup_init(kfk_wakeup_t *w, rd_kafka_t *rk, char *errstr, size_t errstr_size);
/* kfk_wakeup_drain: empty the descriptor after a wake */
void kfk_wakeup_drain(kfk_wakeup_t *w);
/* kfk_wakeup_fini: before rd_kafka_destroy; safe on a zeroed one */
void kfk_wakeup_fini(kfk_wakeup_t *w);

#endif
