/* breaker.h - a circuit breaker: stop calling a failing dependency for a
 * while, then let a few trial calls decide whether it is back.
 *
 * States and transitions (policy numbers are the seed's defaults):
 *
 *   CLOSED     every call is allowed. A success resets the count of
 *              consecutive failures; failure number failure_threshold (5) in
 *              a row opens the breaker.
 *   OPEN       no call is allowed for open_ms (30 s) after it opened. The
 *              first dp_breaker_allow at or after opened + open_ms moves it
 *              to HALF_OPEN.
 *   HALF_OPEN  at most half_open_calls (3) trial calls are allowed; further
 *              calls are refused until they have been recorded. Any failed
 *              trial reopens the breaker at once (a new open_ms starts at
 *              that failure); it closes when half_open_calls trials have
 *              all succeeded.
 *
 * Contract for callers: each dp_breaker_allow that returns 1 is followed by
 * exactly one dp_breaker_record with the call's outcome. A failure seen
 * outside a guarded call (say a multipart part that failed while a file was
 * still being written) may be recorded without an allow: it counts like any
 * failure. A success must only be recorded for an allowed call, or it could
 * close a half-open breaker early. The caller decides
 * what a failure is (datapipe's archive counts an upload that still failed
 * after the S3 client's own retries); "a call" is whatever unit the caller
 * guards, not each HTTP request.
 *
 * Time is passed in by the caller as milliseconds on any clock that does not
 * go backwards (CLOCK_MONOTONIC): the breaker reads no clock, so tests are
 * deterministic. A time before the opening instant counts as still open.
 *
 * Not thread-safe: one breaker is used by one thread, or under the caller's
 * lock. No allocation; dp_breaker_t may be embedded or on the stack. */
#ifndef DP_COMMON_BREAKER_H
#define DP_COMMON_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum dp_breaker_state {
    DP_BREAKER_CLOSED = 0,
    DP_BREAKER_OPEN = 1,
    DP_BREAKER_HALF_OPEN = 2
} dp_breaker_state_t;

#define DP_BREAKER_DEFAULT_FAILURES 5
#define DP_BREAKER_DEFAULT_OPEN_MS 30000
#define DP_BREAKER_DEFAULT_HALF_OPEN_CALLS 3
#define DP_BREAKER_MAX_OPEN_MS ((int64_t)7 * 24 * 3600 * 1000) /* a week */
#define DP_BREAKER_MAX_COUNT 1000000 /* failure_threshold, half_open_calls */

typedef struct dp_breaker_policy {
    int failure_threshold; /* consecutive failures that open it; 1..1000000 */
    int64_t open_ms; /* time open before trials; 0..one week */
    int half_open_calls; /* trial calls, all must succeed to close; 1..1000000 */
} dp_breaker_policy_t;

typedef struct dp_breaker {
    dp_breaker_policy_t policy;
    dp_breaker_state_t state;
    int failures; /* CLOSED: consecutive failures so far */
    int trials_allowed; /* HALF_OPEN: trial calls let through */
    int trials_ok; /* HALF_OPEN: trial calls that succeeded */
    int64_t opened_ms; /* OPEN: when it opened */
    uint64_t opens; /* times it went to OPEN, for metrics */
    uint64_t refused; /* calls refused, for metrics */
} dp_breaker_t;

/* dp_breaker_policy_default: threshold 5, 30 s open, 3 half-open calls. */
dp_breaker_policy_t dp_breaker_policy_default(void);

/* dp_breaker_init: a CLOSED breaker with policy (NULL = the default),
 * copied. DP_ERR_INVALID naming the field when a value is out of its range;
 * *b is then initialized with the default policy. */
dp_err_t dp_breaker_init(dp_breaker_t *b, const dp_breaker_policy_t *policy, char *errstr,
                         size_t errstr_size);

/* dp_breaker_allow: 1 when a call may be made now, 0 when it must not (the
 * refusal is counted). Moves OPEN to HALF_OPEN once open_ms have passed, and
 * counts a granted HALF_OPEN call as a trial. */
int dp_breaker_allow(dp_breaker_t *b, int64_t now_ms);

/* dp_breaker_record: the outcome of a call that dp_breaker_allow let
 * through: ok non-zero for success. A record while OPEN (a call allowed
 * before it opened, finishing late) changes nothing. */
void dp_breaker_record(dp_breaker_t *b, int ok, int64_t now_ms);

/* dp_breaker_state: the state as of the last allow or record; an OPEN
 * breaker whose time is up reads OPEN until the next dp_breaker_allow. */
dp_breaker_state_t dp_breaker_state(const dp_breaker_t *b);

/* dp_breaker_retry_at_ms: when OPEN, the instant from which
 * dp_breaker_allow moves it to HALF_OPEN (opened + open_ms); otherwise 0.
 * A caller that pauses work while OPEN sleeps until then. */
int64_t dp_breaker_retry_at_ms(const dp_breaker_t *b);

/* dp_breaker_state_name: "closed", "open" or "half-open" (for logs and
 * metric values), never NULL. */
const char *dp_breaker_state_name(dp_breaker_state_t s);

#endif
