/* test_eos_state - exactly-once capture's transaction state machine:
 * commit, retry, abort (the coordinator's timeout), fence, a failure
 * while records go into the transaction, and every
 * transition it must refuse; safe_seq moves only on a commit. */
#include "capture/eos_state.h"
#include "testlib.h"

static void test_commit(void) {
    eos_sm_t m = {0};
    CHECK_EQ_INT(m.state, EOS_IDLE);
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 7), 7); /* between transactions: all received */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_BEGIN, 1000, 0), 0);
    CHECK(eos_sm_open(&m));
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 9), 0); /* nothing committed yet */
    CHECK(!eos_sm_commit_due(&m, 1050, 100));
    CHECK(eos_sm_commit_due(&m, 1100, 100));
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMIT_START, 1100, 8), 0);
    CHECK_EQ_INT(m.state, EOS_COMMITTING);
    CHECK(!eos_sm_commit_due(&m, 5000, 100)); /* already committing */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_RETRY, 1200, 0), 0);
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 9), 0);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMITTED, 1300, 0), 0);
    CHECK_EQ_INT(m.state, EOS_IDLE);
    CHECK_EQ_INT(m.safe_seq, 8);
    CHECK_EQ_INT(m.commits, 1);
    /* the next transaction: the last commit's coverage until it commits */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_BEGIN, 2000, 0), 0);
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 12), 8);
    CHECK_EQ_INT(m.began_us, 2000);
}

/* the coordinator aborted the transaction (transaction.timeout.ms ran
 * out while the brokers were away): final, and safe_seq frozen */
static void test_abort_on_timeout(void) {
    eos_sm_t m = {0};
    eos_sm_step(&m, EOS_EV_BEGIN, 0, 0);
    eos_sm_step(&m, EOS_EV_COMMIT_START, 10, 3);
    eos_sm_step(&m, EOS_EV_COMMITTED, 20, 0);
    eos_sm_step(&m, EOS_EV_BEGIN, 30, 0);
    eos_sm_step(&m, EOS_EV_COMMIT_START, 40, 6);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_ABORTED, 50, 0), 0);
    CHECK_EQ_INT(m.state, EOS_FAILED);
    CHECK(!eos_sm_open(&m));
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 100), 3); /* never past the last good commit */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_BEGIN, 60, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMITTED, 60, 0), -1);
    CHECK_EQ_INT(m.state, EOS_FAILED);
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 100), 3);
}

/* another producer with the same transactional.id fenced this one */
static void test_fenced(void) {
    eos_sm_t m = {0};
    eos_sm_step(&m, EOS_EV_BEGIN, 0, 0);
    eos_sm_step(&m, EOS_EV_COMMIT_START, 10, 4);
    eos_sm_step(&m, EOS_EV_RETRY, 20, 0);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_FATAL, 30, 0), 0);
    CHECK_EQ_INT(m.state, EOS_FAILED);
    CHECK_EQ_INT(eos_sm_safe_seq(&m, 50), 0);
    CHECK_EQ_INT(m.commits, 0);
    /* a producer that could not even begin */
    eos_sm_t b = {0};
    CHECK_EQ_INT(eos_sm_step(&b, EOS_EV_BEGIN_FAILED, 0, 0), 0);
    CHECK_EQ_INT(b.state, EOS_FAILED);
    CHECK_EQ_INT(eos_sm_safe_seq(&b, 5), 0);
}

/* the transaction failed while records went into it (librdkafka refuses
 * the next one): aborted or fatal, final, safe_seq at the last commit */
static void test_failed_while_open(void) {
    eos_event_t evs[] = {EOS_EV_ABORTED, EOS_EV_FATAL};
    for (int i = 0; i < 2; i++) {
        eos_sm_t m = {0};
        eos_sm_step(&m, EOS_EV_BEGIN, 0, 0);
        eos_sm_step(&m, EOS_EV_COMMIT_START, 10, 4);
        eos_sm_step(&m, EOS_EV_COMMITTED, 20, 0);
        eos_sm_step(&m, EOS_EV_BEGIN, 30, 0);
        CHECK_EQ_INT(eos_sm_step(&m, evs[i], 40, 0), 0);
        CHECK_EQ_INT(m.state, EOS_FAILED);
        CHECK(!eos_sm_open(&m));
        CHECK_EQ_INT(eos_sm_safe_seq(&m, 50), 4);
        CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMIT_START, 50, 9), -1);
    }
}

static void test_refused(void) {
    eos_sm_t m = {0};
    /* nothing to commit while idle */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMIT_START, 0, 5), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMITTED, 0, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_ABORTED, 0, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_RETRY, 0, 0), -1);
    CHECK_EQ_INT(m.state, EOS_IDLE);
    eos_sm_step(&m, EOS_EV_BEGIN, 0, 0);
    /* no second begin, no commit result before the commit was asked */
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_BEGIN, 0, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMITTED, 0, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_RETRY, 0, 0), -1);
    CHECK_EQ_INT(m.state, EOS_OPEN);
    eos_sm_step(&m, EOS_EV_COMMIT_START, 0, 2);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_BEGIN, 0, 0), -1);
    CHECK_EQ_INT(eos_sm_step(&m, EOS_EV_COMMIT_START, 0, 9), -1);
    CHECK_EQ_INT(m.commit_seq, 2);
    CHECK_EQ_STR(eos_sm_state_name(m.state), "committing");
}

int main(void) {
    test_commit();
    test_abort_on_timeout();
    test_failed_while_open();
    test_fenced();
    test_refused();
    return tl_finish("test_eos_state");
}
