/* frame.h - the logical replication stream's framing (the CopyData
 * messages of START_REPLICATION): typed XLogData and primary keepalive
 * frames from the server, the Standby Status Update we send, and when to
 * send it (the feedback state). Pure: no connection in it.
 *
 *   XLogData ('w'):        start LSN, server WAL end, server time, data
 *   Primary keepalive ('k'): server WAL end, server time, reply requested
 *   Standby status ('r'):   written, flushed, applied LSN, our time, 0 */
#ifndef DP_PG_FRAME_H
#define DP_PG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum { PGF_XLOGDATA = 'w', PGF_KEEPALIVE = 'k' } pgf_kind_t;

typedef struct pgf_frame {
    pgf_kind_t kind;
    uint64_t wal_start; /* XLogData: the WAL position of data */
    uint64_t wal_end; /* the server's end of WAL */
    int64_t server_time; /* µs since 2000-01-01, as the server sent it */
    int reply_requested; /* keepalive: the server wants a status update now */
    const uint8_t *data; /* XLogData: the pgoutput message (points into the frame) */
    size_t len;
} pgf_frame_t;

/* pgf_parse: one CopyData message from the server. DP_ERR_PROTO naming
 * the message type for anything short or unknown. */
dp_err_t pgf_parse(const uint8_t *p, size_t len, pgf_frame_t *out, char *errstr,
                   size_t errstr_size);

#define PGF_STATUS_LEN 34
/* pgf_status_update: the Standby Status Update for written and flushed
 * (also given as applied) at now_us (Unix µs), into out */
void pgf_status_update(uint8_t out[PGF_STATUS_LEN], uint64_t written, uint64_t flushed,
                       int64_t now_us);

/* when to send a status update: every interval, and within a second of
 * the confirmed position moving */
typedef struct pgf_feedback {
    int64_t interval_us;
    int64_t last_us, next_us; /* last sent; next periodic one due */
    uint64_t reported; /* the flushed position last sent */
} pgf_feedback_t;

void pgf_feedback_init(pgf_feedback_t *f, int64_t interval_us);
/* pgf_feedback_due: whether a status update is due at now for flushed */
int pgf_feedback_due(const pgf_feedback_t *f, int64_t now_us, uint64_t flushed);
/* pgf_feedback_deadline: the earliest time one may become due (for a
 * wait), given flushed */
int64_t pgf_feedback_deadline(const pgf_feedback_t *f, uint64_t flushed);
/* pgf_feedback_sent: one was sent at now for flushed */
void pgf_feedback_sent(pgf_feedback_t *f, int64_t now_us, uint64_t flushed);

#endif
