/* eos_state.c - the exactly-once transaction state machine; see eos_state.h. */
#include "capture/eos_state.h"

const char *eos_sm_state_name(eos_state_t s) {
    switch (s) {
    case EOS_IDLE: return "idle";
    case EOS_OPEN: return "open";
    case EOS_COMMITTING: return "committing";
    case EOS_FAILED: return "failed";
    }
    return "?";
}

int eos_sm_step(eos_sm_t *m, eos_event_t ev, int64_t now_us, uint64_t commit_seq) {
    switch (m->state) {
    case EOS_IDLE:
        if (ev == EOS_EV_BEGIN) {
            m->state = EOS_OPEN;
            m->began_us = now_us;
            return 0;
        }
        if (ev == EOS_EV_BEGIN_FAILED) {
            m->state = EOS_FAILED;
            return 0;
        }
        return -1;
    case EOS_OPEN:
        if (ev == EOS_EV_ABORTED || ev == EOS_EV_FATAL) {
            m->state = EOS_FAILED;
            return 0;
        }
        if (ev != EOS_EV_COMMIT_START) return -1;
        m->state = EOS_COMMITTING;
        m->commit_seq = commit_seq;
        return 0;
    case EOS_COMMITTING:
        switch (ev) {
        case EOS_EV_RETRY: return 0;
        case EOS_EV_COMMITTED:
            m->state = EOS_IDLE;
            m->safe_seq = m->commit_seq;
            m->commits++;
            return 0;
        case EOS_EV_ABORTED:
        case EOS_EV_FATAL: m->state = EOS_FAILED; return 0;
        default: return -1;
        }
    case EOS_FAILED: return -1;
    }
    return -1;
}
