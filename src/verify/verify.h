/* verify.h - `datapipe verify`: is the archive in S3 complete?
 *
 * From the archive's own configuration file it lists every object under
 * topics.dir, reads each Parquet footer (never the rows) for the offsets
 * the object holds, and compares them, per topic-partition, with what
 * Kafka holds: gaps that hide data records, offsets in two objects,
 * objects that are not the archive's, and how far the archive is from
 * the consumer group's committed offset and the topic's end.
 *
 * The command is verify_main. The rest of this header is its pure logic,
 * without servers, so that unit tests can drive it: the object key
 * layout, the footer summary, and the plan (ordering, gaps, overlaps,
 * verdict) built from per-object summaries and per-partition facts. */
#ifndef DP_VERIFY_VERIFY_H
#define DP_VERIFY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

int verify_main(int argc, char **argv);

/* VFY_NONE: "no object" where an object index is expected */
#define VFY_NONE ((size_t)-1)

/* ---- interned strings: topics, time paths, odd keys ---- */

/* vfy_strtab_t: each distinct string stored once, found by hash; an index
 * stays valid until vfy_strtab_fini. */
typedef struct vfy_strtab {
    char **s;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t nslots;
} vfy_strtab_t;

void vfy_strtab_init(vfy_strtab_t *t);
void vfy_strtab_fini(vfy_strtab_t *t);
/* vfy_strtab_add: the index of s[0..len), added when new */
uint32_t vfy_strtab_add(vfy_strtab_t *t, const char *s, size_t len);
/* vfy_strtab_find: the index of s, or UINT32_MAX when absent */
uint32_t vfy_strtab_find(const vfy_strtab_t *t, const char *s);
static inline const char *vfy_strtab_get(const vfy_strtab_t *t, uint32_t i) { return t->s[i]; }

/* ---- object keys ---- */

/* the archive's extensions, by parquet.codec: none, snappy, gzip, zstd */
extern const char *const vfy_exts[4];

typedef struct vfy_key {
    const char *path; /* the time path, between topics.dir/ and the file name */
    size_t path_len;
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset; /* the first offset the name announces */
    int ext; /* index into vfy_exts */
} vfy_key_t;

/* vfy_path_shape: the shape every time path of path.format has: the path
 * of time 0, whose digits stand for any digit. DP_ERR_CONFIG for a
 * format the archive would refuse. */
dp_err_t vfy_path_shape(const char *path_format, long long duration_ms, char *out, size_t outsz,
                        char *errstr, size_t errstr_size);

/* vfy_parse_key: whether key is named as the archive names objects,
 *   <dir>/<path>/<topic>+<partition>+<offset zero-padded to pad><ext>
 * with path of the given shape; fills out (pointing into key). DP_ERR_INVALID
 * with the reason otherwise. */
dp_err_t vfy_parse_key(const char *key, const char *dir, const char *shape, int pad, vfy_key_t *out,
                       char *errstr, size_t errstr_size);

/* ---- footers ---- */

typedef struct vfy_footer {
    char topic[256];
    int32_t partition;
    int64_t start, end; /* first and last offset the object holds, inclusive */
} vfy_footer_t;

/* vfy_read_footer: the archive's key/value entries (datapipe.kafka.topic,
 * .partition, .start.offset, .end.offset) from the last len bytes of a
 * Parquet object. DP_ERR_FULL with *need when the footer is longer than
 * tail; DP_ERR_INVALID with the reason for anything that is not such a
 * footer (not Parquet, an entry missing or not a number, start > end). */
dp_err_t vfy_read_footer(const uint8_t *tail, size_t len, vfy_footer_t *out, size_t *need,
                         char *errstr, size_t errstr_size);

/* ---- the plan ---- */

/* vfy_object_t: what is kept of one archived object (32 bytes) */
typedef struct vfy_object {
    int64_t start, end; /* offsets held, inclusive, from the footer */
    uint32_t topic; /* topic table index */
    uint32_t name; /* name table index: the time path; the whole key when odd_name */
    int32_t partition;
    uint8_t ext; /* vfy_exts index */
    uint8_t odd_name; /* the key is not the archive's: name holds the whole key */
} vfy_object_t;

/* vfy_facts_t: what Kafka says about one partition of an archived topic */
typedef struct vfy_facts {
    uint32_t topic;
    int32_t partition;
    int64_t log_start, high; /* low and high watermark */
    int64_t committed; /* the archive group's committed offset, -1 none */
} vfy_facts_t;

typedef enum {
    VFY_GAP_BETWEEN, /* between two objects */
    VFY_GAP_BEFORE_FIRST, /* from the log start to the first object */
    VFY_GAP_AFTER_LAST /* from the last object (or the log start) to the committed offset */
} vfy_gap_kind_t;

typedef enum {
    VFY_UNV_NONE, /* verifiable: Kafka holds these offsets */
    VFY_UNV_BELOW_START, /* below the log start offset: retention removed them */
    VFY_UNV_ABOVE_HIGH, /* at or above the high watermark (a recreated topic?) */
    VFY_UNV_NO_PARTITION, /* Kafka has no such topic-partition */
    VFY_UNV_UNREAD, /* Kafka did not deliver them (beyond what it let us read) */
    VFY_UNV_IN_FLIGHT /* before or between objects, at or above the committed offset: a
                              running archive may be writing there while the listing goes by */
} vfy_unverified_t;

/* vfy_range_t: offsets in no object, to be read from Kafka */
typedef struct vfy_range {
    int64_t from, to; /* inclusive */
    uint32_t topic;
    int32_t partition;
    vfy_gap_kind_t kind;
    vfy_unverified_t unverified;
    size_t before, after; /* the objects around it (sorted indices), VFY_NONE at the ends */
    /* filled by the Kafka check (vfy_range_note) */
    int checked;
    int64_t data, first_data, last_data; /* records with a non-null value */
} vfy_range_t;

/* vfy_overlap_t: offsets from..to are in objects a and b (sorted indices) */
typedef struct vfy_overlap {
    int64_t from, to;
    size_t a, b;
} vfy_overlap_t;

/* vfy_part_t: one topic-partition of the report */
typedef struct vfy_part {
    uint32_t topic;
    int32_t partition;
    size_t first_obj, nobj; /* its slice of the sorted objects */
    int64_t first_offset; /* first archived offset, -1 none */
    int64_t last_offset; /* last archived offset (the highest end), -1 none */
    size_t facts; /* index into the facts, VFY_NONE when Kafka has none */
    int reaches_committed; /* 1 yes, 0 no, -1 no committed offset (or unknown) */
    int64_t behind; /* offsets from the archive's end to the high watermark */
    size_t first_range, nranges; /* its slice of the ranges */
} vfy_part_t;

typedef struct vfy_plan {
    vfy_part_t *parts;
    size_t nparts;
    vfy_range_t *ranges;
    size_t nranges;
    vfy_overlap_t *overlaps;
    size_t noverlaps;
} vfy_plan_t;

/* vfy_plan_build: sort objs by (topic, partition, start, end) in place and
 * facts by (topic, partition), then list per topic-partition the ranges
 * no object covers that must hold no data record (between objects, before
 * the first from the log start, after the last up to the committed
 * offset; each split where Kafka cannot answer) and the overlaps. Before
 * and between objects, offsets at or above the committed offset are in
 * flight, not checked: the committed offsets are read before the listing,
 * and the archive commits only what is in S3, so below them nothing can be
 * missed by a listing that races a running archive; above them it can.
 * Without a committed offset (no group, or its offsets expired) every
 * range is checked. The plan refers to objs and facts by index;
 * vfy_plan_fini releases it. */
void vfy_plan_build(vfy_plan_t *pl, vfy_object_t *objs, size_t nobjs, vfy_facts_t *facts,
                    size_t nfacts);
void vfy_plan_fini(vfy_plan_t *pl);

/* vfy_range_note: the Kafka check saw a record at offset of range r
 * (non-null value: is_data); it sets r->checked once it has read the
 * whole range */
void vfy_range_note(vfy_range_t *r, int64_t offset, int is_data);

/* vfy_verdict_t: the counts that decide the exit code */
typedef struct vfy_verdict {
    size_t gaps; /* checked ranges holding data records */
    int64_t missing; /* data records in them */
    size_t overlaps;
    size_t foreign; /* as counted by the caller */
    size_t unverified; /* ranges Kafka could not answer for (do not fail) */
    int complete;
} vfy_verdict_t;

/* vfy_plan_finish: once every verifiable range is checked: each
 * partition's reaches_committed and behind, and the verdict (complete
 * when there is no gap, no overlap and no foreign object). */
void vfy_plan_finish(vfy_plan_t *pl, const vfy_facts_t *facts, size_t foreign, vfy_verdict_t *v);

/* ---- rows: the latest state per key, against the live tables ---- */

/* The rows check (rows.c, --against-postgres) folds every archived change
 * into the latest state per (table, primary key), then streams each live
 * table and compares row by row. What is kept per key is a hash of the
 * row, never the row: about 80 bytes and the key's text, whatever the
 * number of changes or objects.
 *
 * Order: a snapshot row (op r) comes before every streamed change of its
 * key; streamed changes of one key are ordered by their LSN (a row's
 * changes are serialised by its lock, so a later change has a later LSN);
 * a Kafka offset breaks ties (the same record in two objects).
 *
 * A row is compared as JSON values, not bytes: numbers by value, strings
 * decoded, objects member by member in order. A member whose archived
 * value is Debezium's "__debezium_unavailable_value" (an unchanged TOASTed
 * column) is left out of that key's comparison. */

typedef enum { VFY_ROW_MISSING, VFY_ROW_EXTRA, VFY_ROW_DIFFERS } vfy_row_kind_t;

/* per table counts */
typedef struct vfy_table_rows {
    char *schema, *table;
    char **pk; /* primary key columns, in key order */
    size_t npk;
    uint64_t changes; /* archived changes folded */
    uint64_t keys; /* keys whose latest state is a row */
    uint64_t live; /* rows read from the table */
    uint64_t missing, extra, differs;
    uint8_t truncated; /* an archived truncate: order of the latest in trunc */
    uint8_t trunc_streamed;
    int64_t trunc_lsn, trunc_seq;
} vfy_table_rows_t;

typedef struct vfy_state vfy_state_t;

/* each finding: table index, kind, the key as text ("id=5", strings quoted) */
typedef void (*vfy_row_fn)(void *ctx, uint32_t table, vfy_row_kind_t kind, const char *key);

vfy_state_t *vfy_state_new(void);
void vfy_state_free(vfy_state_t *s);
/* vfy_state_add_table: a table to compare, with its primary key columns;
 * returns its index */
uint32_t vfy_state_add_table(vfy_state_t *s, const char *schema, const char *table,
                             const char *const *pk, size_t npk);
/* vfy_state_table: the index of schema.table, or -1 */
int vfy_state_table(const vfy_state_t *s, const char *schema, const char *table);
vfy_table_rows_t *vfy_state_counts(vfy_state_t *s, uint32_t table);
size_t vfy_state_ntables(const vfy_state_t *s);
/* vfy_state_fold: one archived change of table: op c, u, r (after holds
 * the row), d (before holds at least the key) or t (the whole table);
 * lsn -1 when null, seq the Kafka offset. DP_ERR_INVALID when the row is
 * not a JSON object or lacks a key column. */
dp_err_t vfy_state_fold(vfy_state_t *s, uint32_t table, char op, int64_t lsn, int64_t seq,
                        const char *before, size_t blen, const char *after, size_t alen,
                        char *errstr, size_t errstr_size);
/* vfy_state_check: one live row of table, as the "after" JSON object the
 * capture would write for it; fn hears a missing or differing row */
dp_err_t vfy_state_check(vfy_state_t *s, uint32_t table, const char *after, size_t alen,
                         vfy_row_fn fn, void *ctx, char *errstr, size_t errstr_size);
/* vfy_state_finish_table: after every live row of table was checked: fn
 * hears each archived row the table does not have */
void vfy_state_finish_table(vfy_state_t *s, uint32_t table, vfy_row_fn fn, void *ctx);

#endif
