/* test_breaker - the circuit breaker's states on both sides of every limit:
 * the failure threshold, the open time, the number of half-open trials, and
 * what a success or a failure does in each state. Time is injected. */
#include "common/breaker.h"
#include "testlib.h"

#define T0 1000000 /* an arbitrary start, milliseconds */

/* fail_n: n allowed calls that fail at time t. */
static void fail_n(dp_breaker_t *b, int n, int64_t t) {
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(dp_breaker_allow(b, t), 1);
        dp_breaker_record(b, 0, t);
    }
}

static void opened_at(dp_breaker_t *b, int64_t t) {
    dp_breaker_init(b, NULL, NULL, 0);
    fail_n(b, 5, t);
    CHECK_EQ_INT(dp_breaker_state(b), DP_BREAKER_OPEN);
}

static void test_default_policy(void) {
    dp_breaker_policy_t p = dp_breaker_policy_default();
    CHECK_EQ_INT(p.failure_threshold, 5);
    CHECK_EQ_INT(p.open_ms, 30000);
    CHECK_EQ_INT(p.half_open_calls, 3);
    dp_breaker_t b;
    CHECK_EQ_INT(dp_breaker_init(&b, NULL, NULL, 0), DP_OK);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), 0);
    CHECK_EQ_STR(dp_breaker_state_name(DP_BREAKER_CLOSED), "closed");
    CHECK_EQ_STR(dp_breaker_state_name(DP_BREAKER_OPEN), "open");
    CHECK_EQ_STR(dp_breaker_state_name(DP_BREAKER_HALF_OPEN), "half-open");
    CHECK_EQ_STR(dp_breaker_state_name((dp_breaker_state_t)7), "unknown");
}

static void test_four_failures_stay_closed_the_fifth_opens(void) {
    dp_breaker_t b;
    dp_breaker_init(&b, NULL, NULL, 0);
    fail_n(&b, 4, T0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0), 1);
    dp_breaker_record(&b, 0, T0 + 7);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(b.opens, 1);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), T0 + 7 + 30000); /* timed from the 5th failure */
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 + 7), 0);
    CHECK_EQ_INT(b.refused, 1);
}

static void test_a_success_resets_the_consecutive_count(void) {
    dp_breaker_t b;
    dp_breaker_init(&b, NULL, NULL, 0);
    fail_n(&b, 4, T0);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0), 1);
    dp_breaker_record(&b, 1, T0);
    fail_n(&b, 4, T0 + 1); /* 8 failures, never 5 in a row */
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    fail_n(&b, 1, T0 + 2);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
}

static void test_open_refuses_until_exactly_30s(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 + 1), 0);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 + 29999), 0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(b.refused, 2);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 + 30000), 1);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_HALF_OPEN);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), 0);
}

static void test_open_reads_open_until_the_next_allow(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    /* no allow call: the stored state does not move with time alone */
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), T0 + 30000);
}

static void test_clock_going_back_stays_open(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 - 1), 0);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 - 100000), 0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
}

static void test_half_open_allows_three_trials_not_four(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    int64_t t = T0 + 30000;
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 0); /* the 4th waits for the trials */
    CHECK_EQ_INT(dp_breaker_allow(&b, t + 60000), 0); /* however long */
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_HALF_OPEN);
}

static void test_half_open_closes_after_three_successes_not_two(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    int64_t t = T0 + 30000;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
        dp_breaker_record(&b, 1, t);
    }
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_HALF_OPEN);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 0); /* 3 granted, 2 recorded */
    dp_breaker_record(&b, 1, t);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    /* closed again: all calls allowed, the count starts from zero */
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    fail_n(&b, 4, t);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    fail_n(&b, 1, t);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(b.opens, 2);
}

static void test_half_open_failure_reopens_for_another_30s(void) {
    for (int which = 0; which < 3; which++) { /* the 1st, 2nd or 3rd trial fails */
        dp_breaker_t b;
        opened_at(&b, T0);
        int64_t t = T0 + 30000;
        for (int i = 0; i < which; i++) {
            CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
            dp_breaker_record(&b, 1, t);
        }
        CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
        dp_breaker_record(&b, 0, t + 5);
        CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
        CHECK_EQ_INT(b.opens, 2);
        CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), t + 5 + 30000);
        CHECK_EQ_INT(dp_breaker_allow(&b, t + 5 + 29999), 0);
        CHECK_EQ_INT(dp_breaker_allow(&b, t + 5 + 30000), 1);
        CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_HALF_OPEN);
    }
}

static void test_trials_in_flight_when_one_fails_are_ignored(void) {
    dp_breaker_t b;
    opened_at(&b, T0);
    int64_t t = T0 + 30000;
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    CHECK_EQ_INT(dp_breaker_allow(&b, t), 1);
    dp_breaker_record(&b, 0, t); /* first trial fails: open */
    dp_breaker_record(&b, 1, t); /* the other one finishing late changes nothing */
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), t + 30000);
}

static void test_failures_recorded_without_allow_count(void) {
    dp_breaker_t b;
    dp_breaker_init(&b, NULL, NULL, 0);
    for (int i = 0; i < 4; i++) dp_breaker_record(&b, 0, T0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);
    dp_breaker_record(&b, 0, T0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    /* and in half-open, between trials */
    CHECK_EQ_INT(dp_breaker_allow(&b, T0 + 30000), 1);
    dp_breaker_record(&b, 1, T0 + 30000);
    dp_breaker_record(&b, 0, T0 + 30001);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(dp_breaker_retry_at_ms(&b), T0 + 60001);
}

static void test_custom_policy_and_its_bounds(void) {
    dp_breaker_t b;
    char err[200] = "";
    dp_breaker_policy_t p = {1, 0, 1};
    CHECK_EQ_INT(dp_breaker_init(&b, &p, err, sizeof err), DP_OK);
    fail_n(&b, 1, T0); /* threshold 1: one failure opens */
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_OPEN);
    CHECK_EQ_INT(dp_breaker_allow(&b, T0), 1); /* open_ms 0: trial at once */
    CHECK_EQ_INT(dp_breaker_allow(&b, T0), 0);
    dp_breaker_record(&b, 1, T0);
    CHECK_EQ_INT(dp_breaker_state(&b), DP_BREAKER_CLOSED);

    dp_breaker_policy_t bad[] = {
        {0, 30000, 3}, {DP_BREAKER_MAX_COUNT + 1, 30000, 3},
        {5, -1, 3},    {5, DP_BREAKER_MAX_OPEN_MS + 1, 3},
        {5, 30000, 0}, {5, 30000, DP_BREAKER_MAX_COUNT + 1},
    };
    const char *names[] = {"failure threshold", "failure threshold", "open time",
                           "open time",         "half-open calls",   "half-open calls"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK_EQ_INT(dp_breaker_init(&b, &bad[i], err, sizeof err), DP_ERR_INVALID);
        CHECK(strstr(err, names[i]) != NULL);
        CHECK_EQ_INT(b.policy.failure_threshold, 5); /* the default policy */
    }
    dp_breaker_policy_t edge = {DP_BREAKER_MAX_COUNT, DP_BREAKER_MAX_OPEN_MS, DP_BREAKER_MAX_COUNT};
    CHECK_EQ_INT(dp_breaker_init(&b, &edge, err, sizeof err), DP_OK);
    CHECK_EQ_INT(b.policy.open_ms, DP_BREAKER_MAX_OPEN_MS);
}

int main(void) {
    test_default_policy();
    test_four_failures_stay_closed_the_fifth_opens();
    test_a_success_resets_the_consecutive_count();
    test_open_refuses_until_exactly_30s();
    test_open_reads_open_until_the_next_allow();
    test_clock_going_back_stays_open();
    test_half_open_allows_three_trials_not_four();
    test_half_open_closes_after_three_successes_not_two();
    test_half_open_failure_reopens_for_another_30s();
    test_trials_in_flight_when_one_fails_are_ignored();
    test_failures_recorded_without_allow_count();
    test_custom_policy_and_its_bounds();
    return tl_finish("test_breaker");
}
