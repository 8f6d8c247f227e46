/* acks.c - the acknowledgement tracker; see acks.h. */
#include "capture/acks.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void cap_acks_init(cap_acks_t *a, uint64_t cap) {
    memset(a, 0, sizeof *a);
    a->cap = cap ? cap : 1;
    a->ring = dp_xcalloc(a->cap, sizeof *a->ring);
}

void cap_acks_fini(cap_acks_t *a) {
    free(a->ring);
    memset(a, 0, sizeof *a);
}

uint64_t cap_acks_begin(cap_acks_t *a) {
    cap_ack_txn_t *t = &a->ring[a->tail % a->cap];
    memset(t, 0, sizeof *t);
    a->open = 1;
    return a->tail++;
}

void cap_acks_end(cap_acks_t *a, uint64_t end_lsn) {
    cap_ack_txn_t *t = &a->ring[(a->tail - 1) % a->cap];
    t->end_lsn = end_lsn;
    t->complete = 1;
    a->open = 0;
}

void cap_acks_sent(cap_acks_t *a, uint64_t seq, size_t bytes) {
    a->ring[seq % a->cap].pending++;
    a->inflight++;
    a->inflight_bytes += (int64_t)bytes;
}

void cap_acks_acked(cap_acks_t *a, uint64_t seq, size_t bytes, int failed) {
    cap_ack_txn_t *t = &a->ring[seq % a->cap];
    t->pending--;
    a->inflight--;
    a->inflight_bytes -= (int64_t)bytes;
    if (failed) {
        t->failed = 1; /* reported, but not in Kafka: never confirmed */
        a->failures++;
    }
}

uint64_t cap_acks_advance(cap_acks_t *a, uint64_t safe_seq, uint64_t flushed, uint64_t received) {
    while (a->head < a->tail && a->head < safe_seq) {
        const cap_ack_txn_t *t = &a->ring[a->head % a->cap];
        if (!t->complete || t->pending || t->failed) break;
        if (t->end_lsn > flushed) flushed = t->end_lsn;
        a->head++;
    }
    if (cap_acks_idle(a) && received > flushed) flushed = received;
    return flushed;
}
