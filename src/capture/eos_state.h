/* eos_state.h - exactly-once capture's Kafka transaction as an explicit
 * state machine with checked transitions (no librdkafka in it; eos.c
 * drives it from librdkafka's answers).
 *
 *   IDLE --begin--> OPEN --commit_start--> COMMITTING --committed--> IDLE
 *                                          COMMITTING --retry-------> COMMITTING
 *   IDLE --begin_failed--------------------------------------------> FAILED
 *   COMMITTING --aborted (abortable error, e.g. the coordinator's
 *                transaction.timeout.ms ran out) ------------------> FAILED
 *   COMMITTING --fatal (fenced by another transactional.id owner,
 *                or any error that cannot be aborted) -------------> FAILED
 *   OPEN --aborted / fatal (the transaction failed under a record:
 *          librdkafka refuses records, ERR__STATE or ERR__FATAL) --> FAILED
 *
 * FAILED is final for this producer: no event leaves it; capture starts
 * over with a new producer. The sequence number that may be confirmed
 * (safe_seq) moves only on committed: everything received while IDLE, the
 * last commit's coverage otherwise, and after a failure never again. */
#ifndef DP_CAPTURE_EOS_STATE_H
#define DP_CAPTURE_EOS_STATE_H

#include <stdint.h>

typedef enum { EOS_IDLE, EOS_OPEN, EOS_COMMITTING, EOS_FAILED } eos_state_t;

typedef enum {
    EOS_EV_BEGIN, /* a Kafka transaction began */
    EOS_EV_BEGIN_FAILED, /* it could not begin */
    EOS_EV_COMMIT_START, /* its commit was asked for (covers < commit_seq) */
    EOS_EV_RETRY, /* the commit has no answer yet, or a retriable error */
    EOS_EV_COMMITTED, /* the commit is in */
    EOS_EV_ABORTED, /* the transaction failed and was aborted */
    EOS_EV_FATAL /* the transaction failed and cannot be aborted (fenced) */
} eos_event_t;

typedef struct eos_sm {
    eos_state_t state;
    uint64_t safe_seq; /* entries below it are in committed Kafka transactions */
    uint64_t commit_seq; /* what the commit under way makes safe */
    int64_t began_us; /* when the open transaction began */
    uint64_t commits;
} eos_sm_t;

/* eos_sm_step: apply ev at time now_us (commit_seq: for COMMIT_START).
 * 0, or -1 when ev is not allowed in the current state, which then stays. */
int eos_sm_step(eos_sm_t *m, eos_event_t ev, int64_t now_us, uint64_t commit_seq);

/* eos_sm_open: a transaction is open (being filled or being committed) */
static inline int eos_sm_open(const eos_sm_t *m) {
    return m->state == EOS_OPEN || m->state == EOS_COMMITTING;
}

/* eos_sm_safe_seq: the ring entries below it may be confirmed; tail is
 * the ring's tail (all received): between transactions, all of it */
static inline uint64_t eos_sm_safe_seq(const eos_sm_t *m, uint64_t tail) {
    return m->state == EOS_IDLE ? tail : m->safe_seq;
}

/* eos_sm_commit_at: when the open transaction's commit falls due */
static inline int64_t eos_sm_commit_at(const eos_sm_t *m, int64_t interval_us) {
    return m->began_us + interval_us;
}

/* eos_sm_commit_due: the open transaction has run interval_us */
static inline int eos_sm_commit_due(const eos_sm_t *m, int64_t now_us, int64_t interval_us) {
    return m->state == EOS_OPEN && now_us >= eos_sm_commit_at(m, interval_us);
}

const char *eos_sm_state_name(eos_state_t s);

#endif
