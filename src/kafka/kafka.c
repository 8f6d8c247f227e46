/* kafka.c - librdkafka configuration and metadata helpers. */
#include "kafka/kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* java_keystore: the Java client's keystores (JKS, PKCS#12 truststores)
 * that a Kafka Connect configuration carries and librdkafka cannot read:
 * DP_ERR_CONFIG with an error that says how to convert them */
static dp_err_t java_keystore(const char *k, const char *v, char *errstr, size_t n) {
    size_t vl = strlen(v);
    int jks = vl >= 4 && strcasecmp(v + vl - 4, ".jks") == 0;
    if (!strcmp(k, "ssl.truststore.location") || !strcmp(k, "ssl.truststore.password") ||
        (!strcmp(k, "ssl.ca.location") && jks))
        return dp_seterr(
            errstr, n, DP_ERR_CONFIG,
            "\"kafka.%s\": librdkafka reads the CA certificates as PEM, not from a Java "
            "truststore; export them (keytool -exportcert -rfc -keystore truststore.jks "
            "-alias <ca> -file ca.pem) and set \"kafka.ssl.ca.location\" to the PEM file",
            k);
    if ((!strcmp(k, "ssl.keystore.location") && jks) || !strcmp(k, "ssl.keystore.type"))
        return dp_seterr(
            errstr, n, DP_ERR_CONFIG,
            "\"kafka.%s\": librdkafka reads a client certificate as PEM "
            "(\"kafka.ssl.certificate.location\", \"kafka.ssl.key.location\") or a PKCS#12 "
            "file (\"kafka.ssl.keystore.location\"), not a JKS keystore; convert it with "
            "keytool -importkeystore -deststoretype PKCS12",
            k);
    return DP_OK;
}

/* every client's defaults, before the service's own: Nagle off, since over
 * TLS librdkafka writes a request as several records and Nagle then holds
 * the rest of it for the broker's delayed ACK (about 40 ms per request;
 * measured: capture with a one-message queue sent ~11 records/s) */
static const char *const common_defaults[] = {"socket.nagle.disable", "true", NULL};

rd_kafka_conf_t *kfk_conf_new(const char *const *defaults, const char *const *forced,
                              const cfg_kv_t *user, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rerr[512];
    for (size_t i = 0; common_defaults[i]; i += 2)
        rd_kafka_conf_set(conf, common_defaults[i], common_defaults[i + 1], rerr, sizeof rerr);
    for (size_t i = 0; defaults && defaults[i]; i += 2) {
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], rerr, sizeof rerr) !=
            RD_KAFKA_CONF_OK) {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "kafka default \"%s\": %s", defaults[i],
                      rerr);
            goto fail;
        }
    }
    for (size_t i = 0; user && i < user->n; i++) {
        const char *k = user->keys[i], *v = user->values[i];
        for (size_t f = 0; forced && forced[f]; f += 2) {
            if (strcmp(forced[f], k) == 0 && strcmp(forced[f + 1], v) != 0) {
                dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                          "\"kafka.%s\" must be \"%s\": datapipe does not trade durability "
                          "for speed",
                          k, forced[f + 1]);
                goto fail;
            }
        }
        if (java_keystore(k, v, errstr, errstr_size)) goto fail;
        if (rd_kafka_conf_set(conf, k, v, rerr, sizeof rerr) != RD_KAFKA_CONF_OK) {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "invalid \"kafka.%s\": %s", k, rerr);
            goto fail;
        }
    }
    for (size_t f = 0; forced && forced[f]; f += 2) {
        if (rd_kafka_conf_set(conf, forced[f], forced[f + 1], rerr, sizeof rerr) !=
            RD_KAFKA_CONF_OK) {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "kafka \"%s\": %s", forced[f], rerr);
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

dp_err_t kfk_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *parts,
                              char *errstr, size_t errstr_size) {
    *parts = 0;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err)
        return dp_seterr(errstr, errstr_size, DP_ERR_NET,
                         "cannot read metadata of topic \"%s\": %s", topic, rd_kafka_err2str(err));
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        /* Kafka answers so for a topic we may not describe, whether it
         * exists or not */
        rd_kafka_metadata_destroy(md);
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "topic \"%s\": not authorized (grant this principal Describe and Write "
                         "on it)",
                         topic);
    }
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topics[0].partition_cnt > 0)
        *parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return DP_OK;
}

int kfk_unreachable(int err) {
    return err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR__RESOLVE;
}

void kfk_describe(int err, const char *reason, char *out, size_t out_size) {
    const char *hint = "";
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        hint = " (check kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.password)";
    else if (err == RD_KAFKA_RESP_ERR__SSL)
        hint = " (check kafka.ssl.ca.location: it must hold the CA that signed the brokers' "
               "certificates)";
    else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT)
        hint = " (check kafka.bootstrap.servers and kafka.security.protocol)";
    snprintf(out, out_size, "%s%s", reason ? reason : rd_kafka_err2str(err), hint);
}

int kfk_producer_restart_heals(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_DUPLICATE_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    /* a topic a moment old, missing from a lagging broker's metadata: a
     * new producer looks it up again (a topic really gone fails there) */
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return 1;
    default: return 0;
    }
}

dp_err_t kfk_err(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return DP_OK;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL: return DP_ERR_FULL;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION: return DP_ERR_NET;
    default: return DP_ERR_KAFKA;
    }
}

rd_kafka_t *kfk_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, char *errstr,
                    size_t errstr_size) {
    char kerr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        dp_seterr(errstr, errstr_size, DP_ERR_KAFKA, "kafka %s: %s", what, kerr);
    }
    return rk;
}

dp_err_t kfk_wakeup_init(kfk_wakeup_t *w, rd_kafka_t *rk, char *errstr, size_t n) {
    if (pipe2(w->fd, O_NONBLOCK | O_CLOEXEC)) {
        w->fd[0] = w->fd[1] = -1;
        return dp_seterr(errstr, n, DP_ERR_IO, "pipe for librdkafka's queue events: %s",
                         strerror(errno));
    }
    w->q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(w->q, w->fd[1], "1", 1);
    return DP_OK;
}

void kfk_wakeup_drain(kfk_wakeup_t *w) {
    char buf[256];
    while (w->fd[0] >= 0 && read(w->fd[0], buf, sizeof buf) > 0) continue;
}

void kfk_wakeup_fini(kfk_wakeup_t *w) {
    if (w->q) {
        rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
        rd_kafka_queue_destroy(w->q);
        w->q = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (w->fd[i] > 0) close(w->fd[i]);
    w->fd[0] = w->fd[1] = -1;
}
