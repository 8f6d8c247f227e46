/* pgoutput.h - decoder for PostgreSQL's pgoutput logical replication
 * messages (protocol version 1).
 *
 * pgo_decode() parses one message (the payload of an XLogData 'w' frame)
 * without copying: names and column values point into the input, which
 * must stay alive while the message is used. Column value arrays live in
 * the decoder and are reused by the next call. Every length is checked
 * against the input; malformed bytes give DP_ERR_PROTO, never a crash. */
#ifndef DP_PG_PGOUTPUT_H
#define DP_PG_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PGO_MAX_COLUMNS 1664 /* PostgreSQL's MaxTupleAttributeNumber */

typedef enum {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M'
} pgo_kind_t;

typedef struct pgo_str {
    const char *p;
    uint32_t len;
} pgo_str_t;

typedef enum {
    PGO_VAL_NULL = 'n',
    PGO_VAL_UNCHANGED = 'u',
    PGO_VAL_TEXT = 't',
    PGO_VAL_BINARY = 'b'
} pgo_val_kind_t;

typedef struct pgo_value {
    char kind; /* pgo_val_kind_t */
    const char *data;
    uint32_t len;
} pgo_value_t;

typedef struct pgo_tuple {
    uint16_t ncols;
    pgo_value_t *cols; /* points into the decoder's arrays */
} pgo_tuple_t;

typedef struct pgo_column {
    uint8_t flags; /* 1 = part of the replica identity key */
    pgo_str_t name;
    uint32_t type_oid;
    int32_t typmod;
} pgo_column_t;

/* a table as a Relation message describes it (and as the catalog does for
 * readers outside the stream, pg/catalog.h) */
typedef struct pgo_relation {
    uint32_t relid;
    pgo_str_t nspname, relname;
    char replident;
    uint16_t ncols;
    pgo_column_t *cols;
} pgo_relation_t;

typedef struct pgo_msg {
    pgo_kind_t kind;
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_ts;
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;
            uint64_t commit_lsn, end_lsn;
            int64_t commit_ts;
        } commit;
        struct {
            uint64_t lsn;
            pgo_str_t name;
        } origin;
        pgo_relation_t relation;
        struct {
            uint32_t oid;
            pgo_str_t nspname, typname;
        } type;
        struct {
            uint32_t relid;
            char old_kind; /* 0 = none, 'K' key only, 'O' full old row */
            pgo_tuple_t old_tuple, new_tuple;
        } change; /* insert (new), update (old?, new), delete (old) */
        struct {
            uint32_t nrels;
            uint8_t options;
            const unsigned char *relids;
        } truncate;
        struct {
            uint8_t flags;
            uint64_t lsn;
            pgo_str_t prefix;
            const char *content;
            uint32_t len;
        } message;
    } u;
} pgo_msg_t;

typedef struct pgo_decoder {
    pgo_value_t vals[2][PGO_MAX_COLUMNS];
    pgo_column_t relcols[PGO_MAX_COLUMNS];
} pgo_decoder_t;

/* pgo_decode: parse buf[0..len) into msg using d's scratch arrays. */
dp_err_t pgo_decode(pgo_decoder_t *d, const unsigned char *buf, size_t len, pgo_msg_t *msg,
                    char *errstr, size_t errstr_size);

/* pgo_truncate_relid: i-th relation id of a Truncate message. */
uint32_t pgo_truncate_relid(const pgo_msg_t *msg, uint32_t i);

/* Big-endian helpers shared with the replication protocol code. */
static inline uint64_t pgo_be64(const unsigned char *p) {
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
        (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 |
        p[7];
}
static inline uint32_t pgo_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void pgo_put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

#endif
