/* breaker.c - the circuit breaker's state machine; see breaker.h. */
#include "common/breaker.h"

dp_breaker_policy_t dp_breaker_policy_default(void) {
    dp_breaker_policy_t p = {DP_BREAKER_DEFAULT_FAILURES, DP_BREAKER_DEFAULT_OPEN_MS,
                             DP_BREAKER_DEFAULT_HALF_OPEN_CALLS};
    return p;
}

static void reset(dp_breaker_t *b, const dp_breaker_policy_t *p) {
    b->policy = *p;
    b->state = DP_BREAKER_CLOSED;
    b->failures = b->trials_allowed = b->trials_ok = 0;
    b->opened_ms = 0;
    b->opens = b->refused = 0;
}

dp_err_t dp_breaker_init(dp_breaker_t *b, const dp_breaker_policy_t *policy, char *errstr,
                         size_t errstr_size) {
    dp_breaker_policy_t def = dp_breaker_policy_default();
    reset(b, &def);
    if (!policy) return DP_OK;
    if (policy->failure_threshold < 1 || policy->failure_threshold > DP_BREAKER_MAX_COUNT)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "circuit breaker: failure threshold %d is outside 1..%d",
                         policy->failure_threshold, DP_BREAKER_MAX_COUNT);
    if (policy->open_ms < 0 || policy->open_ms > DP_BREAKER_MAX_OPEN_MS)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "circuit breaker: open time %lld ms is outside 0..%lld",
                         (long long)policy->open_ms, (long long)DP_BREAKER_MAX_OPEN_MS);
    if (policy->half_open_calls < 1 || policy->half_open_calls > DP_BREAKER_MAX_COUNT)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "circuit breaker: half-open calls %d is outside 1..%d",
                         policy->half_open_calls, DP_BREAKER_MAX_COUNT);
    reset(b, policy);
    return DP_OK;
}

static void trip(dp_breaker_t *b, int64_t now_ms) {
    b->state = DP_BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->failures = b->trials_allowed = b->trials_ok = 0;
    b->opens++;
}

int dp_breaker_allow(dp_breaker_t *b, int64_t now_ms) {
    if (b->state == DP_BREAKER_OPEN) {
        /* now_ms < opened_ms (a clock that went back) stays open; the
         * subtraction cannot overflow for times within +-2^62 ms */
        if (now_ms < b->opened_ms || now_ms - b->opened_ms < b->policy.open_ms) {
            b->refused++;
            return 0;
        }
        b->state = DP_BREAKER_HALF_OPEN;
        b->trials_allowed = b->trials_ok = 0;
    }
    if (b->state == DP_BREAKER_HALF_OPEN) {
        if (b->trials_allowed >= b->policy.half_open_calls) {
            b->refused++;
            return 0;
        }
        b->trials_allowed++;
    }
    return 1;
}

void dp_breaker_record(dp_breaker_t *b, int ok, int64_t now_ms) {
    switch (b->state) {
    case DP_BREAKER_CLOSED:
        if (ok) {
            b->failures = 0;
        } else if (++b->failures >= b->policy.failure_threshold) {
            trip(b, now_ms);
        }
        break;
    case DP_BREAKER_HALF_OPEN:
        if (!ok) {
            trip(b, now_ms);
        } else if (++b->trials_ok >= b->policy.half_open_calls) {
            b->state = DP_BREAKER_CLOSED;
            b->failures = b->trials_allowed = b->trials_ok = 0;
        }
        break;
    case DP_BREAKER_OPEN: break; /* a call from before it opened: the decision stands */
    }
}

dp_breaker_state_t dp_breaker_state(const dp_breaker_t *b) { return b->state; }

int64_t dp_breaker_retry_at_ms(const dp_breaker_t *b) {
    return b->state == DP_BREAKER_OPEN ? b->opened_ms + b->policy.open_ms : 0;
}

const char *dp_breaker_state_name(dp_breaker_state_t s) {
    switch (s) {
    case DP_BREAKER_CLOSED: return "closed";
    case DP_BREAKER_OPEN: return "open";
    case DP_BREAKER_HALF_OPEN: return "half-open";
    }
    return "unknown";
}
