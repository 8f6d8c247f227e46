/* unwrap.h - Debezium's io.debezium.transforms.ExtractNewRecordState
 * ("unwrap") on JsonConverter output, as Debezium 3.0.8 does it.
 *
 * The transform works on the value of one change-event record as
 * dbz_encode_value wrote it ({"schema":..,"payload":..} or the bare
 * payload) and on tombstones (no value). It yields the new value (the row
 * state: `after`, or `before` for a rewritten delete, plus the fields of
 * add.fields and `__deleted` in rewrite modes), a null value, or nothing
 * (the record is dropped), and the headers of add.headers. The key and the
 * topic are not touched.
 *
 * What Debezium 3.0.8 does, and so we:
 *   - c, u, r: the `after` struct; its schema is the envelope's `after`
 *     field schema (optional, named <prefix>.<schema>.<table>.Value); once
 *     fields are added (rewrite modes, add.fields) the struct is rebuilt as
 *     Kafka's SchemaUtil does and is no longer optional.
 *   - t (truncate, no before and no after): always dropped.
 *   - d: by delete.tombstone.handling.mode when it is set, else by the
 *     deprecated delete.handling.mode (default drop) and drop.tombstones
 *     (default true), with a warning as Debezium logs one.
 *   - tombstones: kept or dropped by the same modes.
 *   - add.fields: "f" is op/ts_ms/ts_us/ts_ns of the envelope, id,
 *     total_order, data_collection_order of `transaction`, anything else of
 *     `source`; "s.f" names the struct; "f:name" renames. A field the event
 *     does not have is left out. Their schema is the original one made
 *     optional, without its default.
 *
 * The transform reads no configuration of its own beyond
 * transforms.<name>.*; schemas_enable says what the value converter
 * writes. Not implemented (a configuration error says so): route.by.field. */
#ifndef DP_EVENT_UNWRAP_H
#define DP_EVENT_UNWRAP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/json.h"
#include "event/debezium.h"

#define DBZ_UNWRAP_TYPE "io.debezium.transforms.ExtractNewRecordState"
#define DBZ_UNWRAP_MAX_REFS 64 /* add.fields and add.headers entries, each */

typedef enum {
    DBZ_UNWRAP_VALUE, /* produce the record with the value in out */
    DBZ_UNWRAP_NULL, /* produce the record with a null value (a tombstone) */
    DBZ_UNWRAP_DROP /* produce nothing */
} dbz_unwrap_result_t;

typedef struct dbz_unwrap_ref {
    char *strct; /* "source", "transaction", ...; NULL: the envelope itself */
    char *field; /* simple name in that struct */
    char *name; /* outgoing field/header name, prefix included */
} dbz_unwrap_ref_t;

typedef struct dbz_unwrap {
    char *alias; /* the transform's name in "transforms" */
    int delete_action; /* DBZ_UNWRAP_VALUE (rewrite), _NULL (value null), _DROP */
    int keep_tombstones;
    int rewrite; /* add "__deleted" to every row */
    int legacy; /* configured with the deprecated keys */
    int schemas_enable; /* value.converter.schemas.enable of the output */
    dbz_unwrap_ref_t *fields, *headers;
    size_t nfields, nheaders;
    /* per record, reused */
    dp_json_t json;
    dp_buf_t hdrbuf; /* header values, back to back */
    size_t hdr_ref[64], hdr_off[64], hdr_len[64];
    int hdr_null[64];
    size_t nhdr;
} dbz_unwrap_t;

/* dbz_unwrap_is_key: whether key (after "transforms.<alias>.") is an
 * option of ExtractNewRecordState. */
int dbz_unwrap_is_key(const char *key);

/* dbz_unwrap_init: configure u from the transforms.<alias>.* entries of
 * kv (keys without "transforms."). Unknown options and bad values are
 * errors naming the key "transforms.<alias>.<option>". On error u needs
 * no dbz_unwrap_fini. */
dp_err_t dbz_unwrap_init(dbz_unwrap_t *u, const char *alias, const cfg_kv_t *kv, int schemas_enable,
                         size_t max_bytes, char *errstr, size_t errstr_size);
void dbz_unwrap_fini(dbz_unwrap_t *u);

/* dbz_unwrap_apply: transform one record's value val[0..len) (val NULL: a
 * tombstone). On DBZ_UNWRAP_VALUE out holds the new value; headers are
 * then available through dbz_unwrap_header until the next call. */
dp_err_t dbz_unwrap_apply(dbz_unwrap_t *u, const void *val, size_t len, dp_buf_t *out,
                          dbz_unwrap_result_t *res, char *errstr, size_t errstr_size);

/* ---- the transform on typed events ----
 *
 * What the transform does with a table's events depends on the envelope's
 * schema only, so it is worked out once per table (dbz_unwrap_plan_build,
 * with the same rules as dbz_unwrap_apply) and each event is then
 * transformed from its typed values, with no JSON read; an add.fields
 * entry naming a column of before or after is written from the row image
 * as the row writer writes it. A configuration whose add.fields or
 * add.headers take a whole struct, or whose add.headers take a column,
 * keeps the JSON transform (the plan says DBZ_UNWRAP_PLAN_JSON). */

typedef enum {
    DBZ_UNWRAP_PLAN_NONE,
    DBZ_UNWRAP_PLAN_TYPED,
    DBZ_UNWRAP_PLAN_JSON
} dbz_unwrap_plan_state_t;

typedef struct dbz_unwrap_plan {
    dbz_unwrap_plan_state_t state;
    dp_buf_t schema[2]; /* the new value's Connect schema (schemas enabled): the row
                            * struct rebuilt with the added fields, [0] from after,
                            * [1] from before (a rewritten delete) */
    dp_buf_t null_schema; /* a delete as a null value: the after struct's schema */
    /* per add.fields / add.headers entry: 0 absent, 1 in its struct, 2 in
     * the envelope itself (Debezium's fallback for a field its struct
     * lacks), 3 a column of before or after (add.fields only): field_col */
    unsigned char field_in[DBZ_UNWRAP_MAX_REFS], header_in[DBZ_UNWRAP_MAX_REFS];
    uint16_t field_col[DBZ_UNWRAP_MAX_REFS];
} dbz_unwrap_plan_t;

/* dbz_unwrap_plan_build: the plan for table t's events (from scratch);
 * dbz_unwrap_plan_fini frees it (and leaves it as new). */
dp_err_t dbz_unwrap_plan_build(const dbz_unwrap_t *u, const dbz_table_t *t,
                               const dbz_options_t *opt, dbz_unwrap_plan_t *p, char *errstr,
                               size_t errstr_size);
void dbz_unwrap_plan_fini(dbz_unwrap_plan_t *p);

/* the new value of one event, for a writer (JSON here, Avro in avro_event.h) */
typedef struct dbz_unwrapped {
    dbz_unwrap_result_t res;
    const pgo_tuple_t *row; /* DBZ_UNWRAP_VALUE: the row; NULL: a null value */
    int side; /* its schema: 0 after, 1 before; a null value: the after
                             * struct's (plan null_schema) */
    const char *deleted; /* "__deleted": "true", "false", or NULL: none */
    size_t nadded; /* the add.fields present, in order */
    const char *added_name[DBZ_UNWRAP_MAX_REFS];
    dbz_val_t added[DBZ_UNWRAP_MAX_REFS];
} dbz_unwrapped_t;

/* dbz_unwrap_event: transform ev (plan state TYPED) into *out; the
 * add.headers are then available through dbz_unwrap_header. */
dp_err_t dbz_unwrap_event(dbz_unwrap_t *u, const dbz_unwrap_plan_t *p, const dbz_event_t *ev,
                          const dbz_options_t *opt, dbz_unwrapped_t *out);
/* dbz_unwrap_write_json: the JsonConverter form of the new value (with
 * the plan's schema when u->schemas_enable) into out (replacing it). */
dp_err_t dbz_unwrap_write_json(const dbz_unwrap_t *u, const dbz_unwrap_plan_t *p,
                               const dbz_event_t *ev, const dbz_unwrapped_t *uw, dp_buf_t *out);

/* dbz_unwrap_nheaders / dbz_unwrap_header: the headers of add.headers for
 * the last record (value NULL: a null header value). */
size_t dbz_unwrap_nheaders(const dbz_unwrap_t *u);
void dbz_unwrap_header(const dbz_unwrap_t *u, size_t i, const char **name, const void **value,
                       size_t *len);

#endif
