/* clock.h - the one clock of every service: monotonic time for deadlines,
 * intervals and backoff (never the wall clock, which jumps), wall time for
 * timestamps that leave the process (events, status updates, logs), and
 * the budget arithmetic that every bounded wait shares. */
#ifndef DP_COMMON_CLOCK_H
#define DP_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* dp_mono_ms: milliseconds on CLOCK_MONOTONIC */
static inline int64_t dp_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dp_mono_us: microseconds on CLOCK_MONOTONIC */
static inline int64_t dp_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* dp_wall_us: microseconds since the Unix epoch (CLOCK_REALTIME), for
 * timestamps only */
static inline int64_t dp_wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* dp_left_ms: what remains of a budget ending at deadline (dp_mono_ms
 * time), at most cap, never negative */
static inline int dp_left_ms(int64_t deadline, int cap) {
    int64_t l = deadline - dp_mono_ms();
    return l <= 0 ? 0 : l > cap ? cap : (int)l;
}

#endif
