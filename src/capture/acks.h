/* acks.h - the acknowledgement tracker: which position capture may confirm
 * to PostgreSQL, from Kafka's delivery reports. No librdkafka in it.
 *
 * Source transactions enter a ring in commit order (begin ... end). Each
 * record produced for one counts as pending on its entry until its
 * delivery report comes, in any order. The confirmable position moves over
 * a leading entry only when the transaction is complete (end seen), every
 * record of it is acknowledged, none failed, and (with exactly-once) the
 * entry is below the sequence number Kafka committed. A failed record
 * stops the position at its transaction for good: a restart resends it.
 * When nothing is open and nothing unacknowledged, everything received
 * (keepalives, skipped transactions) may be confirmed. */
#ifndef DP_CAPTURE_ACKS_H
#define DP_CAPTURE_ACKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cap_ack_txn {
    uint64_t end_lsn; /* the transaction's end, once seen */
    uint32_t pending; /* records sent, not yet acknowledged */
    uint8_t complete; /* its end was seen */
    uint8_t failed; /* a record of it was not delivered */
} cap_ack_txn_t;

typedef struct cap_acks {
    cap_ack_txn_t *ring;
    uint64_t cap, head, tail; /* sequence numbers; entry seq is ring[seq % cap] */
    int open; /* the newest transaction is still being read */
    int64_t inflight, inflight_bytes; /* records (and their bytes) awaiting a report */
    uint64_t failures; /* records reported failed */
} cap_acks_t;

void cap_acks_init(cap_acks_t *a, uint64_t cap);
void cap_acks_fini(cap_acks_t *a);

/* cap_acks_full: no room for another transaction until the head moves */
static inline int cap_acks_full(const cap_acks_t *a) { return a->tail - a->head >= a->cap; }
/* cap_acks_idle: no transaction open and none waiting for reports */
static inline int cap_acks_idle(const cap_acks_t *a) { return a->head == a->tail && !a->open; }

/* cap_acks_begin: a new transaction at the tail (the ring must not be
 * full); returns its sequence number, the open one until cap_acks_end */
uint64_t cap_acks_begin(cap_acks_t *a);
/* cap_acks_end: the open transaction is complete; it ends at end_lsn */
void cap_acks_end(cap_acks_t *a, uint64_t end_lsn);
/* cap_acks_sent: one record of transaction seq handed to Kafka */
void cap_acks_sent(cap_acks_t *a, uint64_t seq, size_t bytes);
/* cap_acks_acked: the delivery report of a record of seq; failed: it is
 * not in Kafka */
void cap_acks_acked(cap_acks_t *a, uint64_t seq, size_t bytes, int failed);
/* cap_acks_advance: the position that may be confirmed, given the one
 * confirmable so far (flushed), everything received, and safe_seq: the
 * entries below it are in committed Kafka transactions (without
 * exactly-once, the tail). Retires the entries it moves over. */
uint64_t cap_acks_advance(cap_acks_t *a, uint64_t safe_seq, uint64_t flushed, uint64_t received);

#endif
