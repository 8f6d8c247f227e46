/* position.h - the stream position exactly-once capture stores in the
 * offset topic (eos.c stores it): its one writer and its parser. The
 * record is {"lsn_commit":N,"records":N,"complete":bool[,"snapshot":true]}.
 * It comes back from Kafka, so its bytes may be anything: the parser takes
 * only that shape with non-negative integers, and needs nothing else from
 * capture. */
#ifndef DP_CAPTURE_POSITION_H
#define DP_CAPTURE_POSITION_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* a stored stream position (eos.c): the PostgreSQL transaction whose
 * commit is at lsn_commit had its first `records` records (all of them
 * when complete) in committed Kafka transactions */
typedef struct capture_eos_pos {
    uint64_t lsn_commit, records;
    int complete, valid;
    int snapshot; /* a snapshot began and has not finished */
} capture_eos_pos_t;

/* capture_position_parse: parse the record v[0..len) (not NUL-terminated)
 * into *pos and set pos->valid; 1 on success. 0 when it is not a JSON
 * object with integers lsn_commit and records in [0, INT64_MAX], a boolean
 * complete and, if present, a boolean snapshot; *pos is then unchanged.
 * Other members are ignored. */
int capture_position_parse(const char *v, size_t len, capture_eos_pos_t *pos);

/* capture_position_write: the record of pos into out (replacing it). */
dp_err_t capture_position_write(const capture_eos_pos_t *pos, dp_buf_t *out);

#endif
