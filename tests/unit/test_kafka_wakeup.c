/* test_kafka_wakeup - kfk_wakeup against librdkafka's in-process mock
 * cluster (test.mock.num.brokers): the descriptor stays quiet while the
 * producer's queue is empty, turns readable when a delivery report comes
 * in, and is quiet again once drained and served. Every wait is bounded. */
#include <poll.h>
#include <stdlib.h>

#include "kafka/kafka.h"
#include "testlib.h"

static int delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (!m->err) delivered++;
}

/* readable: does fd turn readable within ms? */
static int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

int main(void) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK_EQ_INT(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK);
    CHECK_EQ_INT(rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    CHECK(rk != NULL);
    if (!rk) return tl_finish("test_kafka_wakeup");
    kfk_wakeup_t w;
    CHECK_EQ_INT(kfk_wakeup_init(&w, rk, errstr, sizeof errstr), DP_OK);
    rd_kafka_poll(rk, 0);
    kfk_wakeup_drain(&w);
    CHECK(!readable(w.fd[0], 100)); /* nothing queued: no wake */
    for (int round = 0; round < 3; round++) {
        int before = delivered;
        CHECK_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("wake"), RD_KAFKA_V_VALUE("v", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        /* the delivery report wakes the descriptor; serving it delivers */
        CHECK(readable(w.fd[0], 10000));
        kfk_wakeup_drain(&w);
        for (int i = 0; i < 100 && delivered == before; i++) rd_kafka_poll(rk, 10);
        CHECK_EQ_INT(delivered, before + 1);
        CHECK(!readable(w.fd[0], 50)); /* drained and served: quiet again */
    }
    kfk_wakeup_fini(&w);
    CHECK_EQ_INT(w.fd[0], -1);
    kfk_wakeup_fini(&w); /* twice is harmless */
    rd_kafka_destroy(rk);
    return tl_finish("test_kafka_wakeup");
}
