/* test_retry - the retry policy: 1 s first, doubled per failure, never
 * above 30 s, jittered within [half, full], reset by a success. */
#include "common/retry.h"
#include "testlib.h"

static void test_backoff_bounds(void) {
    for (int attempt = 0; attempt < 40; attempt++) {
        long full = 1000;
        for (int i = 0; i < attempt && full < 30000; i++) full *= 2;
        if (full > 30000) full = 30000;
        for (uint64_t rnd = 0; rnd < 2000; rnd += 97) {
            long d = dp_backoff_ms(1000, 30000, attempt, rnd);
            CHECK(d >= full / 2 && d <= full);
        }
    }
    /* both ends of the jitter are reached */
    CHECK_EQ_INT(dp_backoff_ms(1000, 30000, 0, 0), 500);
    CHECK_EQ_INT(dp_backoff_ms(1000, 30000, 0, 500), 1000);
    CHECK_EQ_INT(dp_backoff_ms(1000, 30000, 10, 15000), 30000);
    /* degenerate inputs stay sane */
    CHECK(dp_backoff_ms(0, 0, 3, 1) >= 0);
    CHECK(dp_backoff_ms(1000, 30000, 1000000, 7) <= 30000);
}

static void test_retry_state(void) {
    dp_retry_t r = {0};
    CHECK(dp_retry_due(&r, 0));
    long d1 = dp_retry_failed(&r, 100000);
    CHECK(d1 >= 500 && d1 <= 1000);
    CHECK(!dp_retry_due(&r, 100000 + d1 - 1));
    CHECK(dp_retry_due(&r, 100000 + d1));
    long last = 0;
    for (int i = 0; i < 20; i++) last = dp_retry_failed(&r, 200000);
    CHECK(last >= 15000 && last <= 30000);
    dp_retry_ok(&r);
    CHECK(dp_retry_due(&r, 0));
    long d2 = dp_retry_failed(&r, 300000);
    CHECK(d2 >= 500 && d2 <= 1000);
}

int main(void) {
    test_backoff_bounds();
    test_retry_state();
    return tl_finish("retry");
}
