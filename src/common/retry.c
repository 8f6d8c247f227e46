/* retry.c - exponential backoff with jitter (see retry.h). */
#include "common/retry.h"

long dp_backoff_ms(long base_ms, long max_ms, int attempt, uint64_t rnd) {
    if (base_ms <= 0) base_ms = 1;
    if (max_ms < base_ms) max_ms = base_ms;
    long full = base_ms;
    for (int i = 0; i < attempt && full < max_ms; i++) full *= 2;
    if (full > max_ms) full = max_ms;
    long half = full / 2;
    return half + (long)(rnd % (uint64_t)(full - half + 1));
}

/* xorshift64: jitter needs spread, not quality */
static uint64_t next_rand(dp_retry_t *r) {
    uint64_t x = r->rnd ? r->rnd : 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->rnd = x;
}

long dp_retry_failed(dp_retry_t *r, int64_t now_ms) {
    long d = dp_backoff_ms(DP_RETRY_FIRST_MS, DP_RETRY_MAX_MS, r->failures, next_rand(r));
    if (r->failures < 64) r->failures++;
    r->next_ms = now_ms + d;
    return d;
}

int dp_retry_due(const dp_retry_t *r, int64_t now_ms) { return now_ms >= r->next_ms; }

void dp_retry_ok(dp_retry_t *r) {
    r->failures = 0;
    r->next_ms = 0;
}
