/* retry.h - the retry policy for transient failures: exponential backoff
 * with jitter (the seed's 1 s first delay, 30 s cap), in one place for
 * every dependency that comes and goes (PostgreSQL, Kafka, S3).
 *
 * A dp_retry_t counts the failures of one thing in a row and says when
 * the next attempt is due; a success resets it. Time is passed in by the
 * caller (milliseconds on a clock that does not go backwards), so tests
 * are deterministic. Not thread-safe; embed one per retried thing. */
#ifndef DP_COMMON_RETRY_H
#define DP_COMMON_RETRY_H

#include <stdint.h>

#define DP_RETRY_FIRST_MS 1000
#define DP_RETRY_MAX_MS 30000

/* dp_backoff_ms: the delay before retry number attempt (0-based): base_ms
 * doubled per attempt, capped at max_ms, then drawn from [half, full]
 * with rnd ("equal jitter"), so a crowd of clients spreads out. */
long dp_backoff_ms(long base_ms, long max_ms, int attempt, uint64_t rnd);

typedef struct dp_retry {
    int failures; /* in a row */
    int64_t next_ms; /* when the next attempt is due (0: now) */
    uint64_t rnd; /* jitter state */
} dp_retry_t;

/* dp_retry_failed: one more failure at now_ms; returns the delay chosen
 * (the policy's 1 s..30 s) and sets next_ms. */
long dp_retry_failed(dp_retry_t *r, int64_t now_ms);
/* dp_retry_due: 1 when an attempt may be made at now_ms */
int dp_retry_due(const dp_retry_t *r, int64_t now_ms);
/* dp_retry_ok: a success: the next failure starts from 1 s again */
void dp_retry_ok(dp_retry_t *r);

#endif
