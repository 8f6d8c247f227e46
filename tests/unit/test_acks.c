/* test_acks - the acknowledgement tracker: the position moves over a
 * transaction only when it is complete, fully acknowledged (in any order),
 * not failed and below Kafka's committed sequence; a full ring refuses
 * more; an idle tracker confirms everything received. */
#include "capture/acks.h"
#include "testlib.h"

static void test_out_of_order(void) {
    cap_acks_t a;
    cap_acks_init(&a, 8);
    CHECK(cap_acks_idle(&a));
    uint64_t t1 = cap_acks_begin(&a);
    cap_acks_sent(&a, t1, 10);
    cap_acks_sent(&a, t1, 20);
    cap_acks_end(&a, 100);
    uint64_t t2 = cap_acks_begin(&a);
    cap_acks_sent(&a, t2, 5);
    cap_acks_end(&a, 200);
    CHECK_EQ_INT(a.inflight, 3);
    CHECK_EQ_INT(a.inflight_bytes, 35);
    /* the second transaction's record first: nothing may move yet */
    cap_acks_acked(&a, t2, 5, 0);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 50, 300), 50);
    cap_acks_acked(&a, t1, 20, 0);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 50, 300), 50);
    cap_acks_acked(&a, t1, 10, 0);
    /* both done and nothing open: everything received */
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 50, 300), 300);
    CHECK_EQ_INT(a.inflight, 0);
    CHECK_EQ_INT(a.inflight_bytes, 0);
    CHECK(cap_acks_idle(&a));
    cap_acks_fini(&a);
}

static void test_open_and_safe_seq(void) {
    cap_acks_t a;
    cap_acks_init(&a, 8);
    uint64_t t1 = cap_acks_begin(&a);
    cap_acks_sent(&a, t1, 1);
    cap_acks_end(&a, 100);
    uint64_t t2 = cap_acks_begin(&a); /* still being read */
    cap_acks_sent(&a, t2, 1);
    cap_acks_acked(&a, t1, 1, 0);
    cap_acks_acked(&a, t2, 1, 0);
    /* exactly-once: Kafka has not committed t1 yet */
    CHECK_EQ_INT(cap_acks_advance(&a, t1, 0, 500), 0);
    CHECK_EQ_INT(cap_acks_advance(&a, t1 + 1, 0, 500), 100);
    /* t2 is open: not past its start, however much was received */
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 100, 500), 100);
    cap_acks_end(&a, 180);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 100, 500), 500);
    cap_acks_fini(&a);
}

static void test_failed(void) {
    cap_acks_t a;
    cap_acks_init(&a, 8);
    uint64_t t1 = cap_acks_begin(&a);
    cap_acks_sent(&a, t1, 1);
    cap_acks_sent(&a, t1, 1);
    cap_acks_end(&a, 100);
    uint64_t t2 = cap_acks_begin(&a);
    cap_acks_sent(&a, t2, 1);
    cap_acks_end(&a, 200);
    cap_acks_acked(&a, t1, 1, 0);
    cap_acks_acked(&a, t1, 1, 1); /* not in Kafka */
    cap_acks_acked(&a, t2, 1, 0);
    CHECK_EQ_INT(a.failures, 1);
    /* the position holds before the failed transaction, for good, even
     * though nothing is pending and everything after it was delivered */
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 40, 900), 40);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 40, 900), 40);
    CHECK(!cap_acks_idle(&a));
    cap_acks_fini(&a);
}

static void test_full_ring(void) {
    cap_acks_t a;
    cap_acks_init(&a, 3);
    uint64_t seq[3];
    for (int i = 0; i < 3; i++) {
        CHECK(!cap_acks_full(&a));
        seq[i] = cap_acks_begin(&a);
        cap_acks_sent(&a, seq[i], 1);
        cap_acks_end(&a, (uint64_t)(i + 1) * 10);
    }
    CHECK(cap_acks_full(&a));
    cap_acks_acked(&a, seq[1], 1, 0);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 0, 99), 0);
    CHECK(cap_acks_full(&a)); /* the head has not moved */
    cap_acks_acked(&a, seq[0], 1, 0);
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 0, 99), 20);
    CHECK(!cap_acks_full(&a));
    /* the freed slots are reused; sequence numbers keep growing */
    uint64_t t4 = cap_acks_begin(&a);
    CHECK_EQ_INT(t4, 3);
    cap_acks_sent(&a, t4, 1);
    cap_acks_end(&a, 40);
    uint64_t t5 = cap_acks_begin(&a);
    cap_acks_end(&a, 50); /* a transaction with no record (all skipped) */
    CHECK(cap_acks_full(&a));
    cap_acks_acked(&a, seq[2], 1, 0);
    cap_acks_acked(&a, t4, 1, 0);
    (void)t5;
    CHECK_EQ_INT(cap_acks_advance(&a, a.tail, 20, 45), 50);
    CHECK(cap_acks_idle(&a));
    cap_acks_fini(&a);
}

int main(void) {
    test_out_of_order();
    test_open_and_safe_seq();
    test_failed();
    test_full_ring();
    return tl_finish("test_acks");
}
