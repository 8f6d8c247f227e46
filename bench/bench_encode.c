/* bench_encode - the event encoding path of capture, in process, no servers.
 *
 * The seed's two tables (users and products, the chart's
 * deploy/helm/data-ingestion-pipeline/files/sql/schema.sql) are bound as
 * capture binds them: a pgoutput Relation message, decoded, plus the
 * catalog facts capture's lookup would return, into dbz_table_init.
 * Then N change events (inserts and updates of both tables, mixed as
 * `datapipe load` mixes them, 64 per transaction as bench_pipeline.py's
 * load sends them) go as pgoutput bytes through the steps capture takes
 * for each message, one converter setting ("path") at a time:
 *
 *   json          JsonConverter, schemas enabled (the default)
 *   json-noschema JsonConverter, key and value schemas.enable=false
 *   avro          AvroConverter for key and value
 *   avro-unwrap   AvroConverter and ExtractNewRecordState (UNWRAP_CONFIG)
 *   json-txmeta   JsonConverter with provide.transaction.metadata=true
 *   avro-txmeta   AvroConverter with provide.transaction.metadata=true
 *
 * What is measured is capture's path through src/capture/events.c: on_xlogdata
 * (Begin, Commit, changes), on_change (dp_wall_us, ops, dbz_key_changed),
 * capture_emit and send_event: txmeta_count, then the event pipeline
 * (dbz_pipeline_event, src/event/pipeline.c) that capture calls too, and
 * txmeta_send (dbz_pipeline_txmeta). The loop around
 * them is repeated here because capture's is tied to libpq and librdkafka.
 * Left out, as they are not encoding: produce() (a sink counts the bytes
 * librdkafka would be handed), the acknowledgement ring, exactly-once's
 * skip and commit ticks, capture_metrics_event, and librdkafka headers
 * (add.headers is not configured, so capture builds none either).
 * Relation messages are bound before the clock starts.
 *
 * Schema ids without a registry: dp_avro_conv_new takes the registration
 * as a callback (dp_avro_register_fn); capture passes
 * dp_registry_register_cb, this bench fake_register, which hands out ids
 * without a server. The converter caches (topic, schema) -> id itself,
 * so after the warm-up below the callback is never called, as in a
 * capture whose schemas are registered. No change to src/ was needed.
 *
 * Before the clock starts, one transaction of the pool is run untimed
 * (the warm-up: output buffers grown, Avro schemas compiled and cached).
 * The timed loop is bench_timed(); bench/bench_encode.sh points
 * callgrind's --toggle-collect at it.
 *
 * Not built by CMake; `make bench-encode` builds it as the production
 * build compiles (RelWithDebInfo: -O2 -g -DNDEBUG) and runs
 * bench/bench_encode.sh. By hand:
 *   cc -std=c11 -O2 -g -DNDEBUG -D_GNU_SOURCE -Isrc -o /tmp/bench_encode
 *      bench/bench_encode.c src/event/[a-z]*.c src/pg/pgoutput.c src/common/buf.c
 *      src/common/config.c src/common/err.c src/common/json.c src/common/log.c -lm
 *   /tmp/bench_encode [--events N] [--path NAME] [--show]   (default 100000, all paths)
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "event/avro.h"
#include "event/debezium.h"
#include "event/pipeline.h"
#include "event/txmeta.h"
#include "event/unwrap.h"
#include "pg/pgoutput.h"

/* as capture's defaults and the seed's connector (config/postgres-cdc-connector.json) */
#define TOPIC_PREFIX "postgres"
#define DBNAME "ecommerce"
#define TX_TOPIC "postgres.transaction" /* <topic.prefix>.<topic.transaction> */
#define MAX_EVENT_BYTES (16u << 20) /* datapipe.max.event.bytes */
#define MAX_SCHEMAS 4096 /* convert.c */
#define PG_EPOCH_US 946684800000000LL /* REPL_PG_EPOCH_US */

/* transforms.unwrap.* of the avro-unwrap path */
static const char *const UNWRAP_CONFIG[][2] = {
    {"unwrap.type", DBZ_UNWRAP_TYPE},
    {"unwrap.delete.tombstone.handling.mode", "rewrite"},
    {"unwrap.add.fields", "op,source.ts_ms"},
};
#define NUNWRAP (sizeof UNWRAP_CONFIG / sizeof UNWRAP_CONFIG[0])

#define TXN_CHANGES 64 /* changes per transaction: load's maximum batch */
#define POOL_TXNS 256 /* transactions generated; the run cycles through them */

/* ---- the workload: the seed's tables, rows as `datapipe load` writes them ---- */

enum { T_USERS, T_PRODUCTS };

typedef struct col_def {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    const char *type_name; /* pg_type.typname */
    int not_null, in_pk;
    const char *default_expr; /* pg_get_expr of the default */
} col_def_t;

#define TYPMOD_VARCHAR(n) ((n) + 4)
#define TYPMOD_NUMERIC(p, s) ((((p) << 16) | (s)) + 4)

static const col_def_t users_cols[] = {
    {"user_id", 2950, -1, "uuid", 1, 1, NULL},
    {"email", 1043, TYPMOD_VARCHAR(255), "varchar", 1, 0, NULL},
    {"first_name", 1043, TYPMOD_VARCHAR(100), "varchar", 0, 0, NULL},
    {"last_name", 1043, TYPMOD_VARCHAR(100), "varchar", 0, 0, NULL},
    {"tier", 1043, TYPMOD_VARCHAR(20), "varchar", 0, 0, "'bronze'::character varying"},
    {"created_at", 1114, -1, "timestamp", 0, 0, "CURRENT_TIMESTAMP"},
    {"updated_at", 1114, -1, "timestamp", 0, 0, "CURRENT_TIMESTAMP"},
};
static const col_def_t products_cols[] = {
    {"product_id", 2950, -1, "uuid", 1, 1, NULL},
    {"name", 1043, TYPMOD_VARCHAR(255), "varchar", 1, 0, NULL},
    {"category", 1043, TYPMOD_VARCHAR(100), "varchar", 0, 0, NULL},
    {"price", 1700, TYPMOD_NUMERIC(10, 2), "numeric", 0, 0, NULL},
    {"is_active", 16, -1, "bool", 0, 0, "true"},
    {"created_at", 1114, -1, "timestamp", 0, 0, "CURRENT_TIMESTAMP"},
    {"updated_at", 1114, -1, "timestamp", 0, 0, "CURRENT_TIMESTAMP"},
};
#define NCOLS 7

static const struct {
    uint32_t relid;
    const char *name, *topic; /* topic: after the seed's RegexRouter */
    const col_def_t *cols;
} tables[2] = {
    {16390, "users", "cdc.postgres.users", users_cols},
    {16401, "products", "cdc.postgres.products", products_cols},
};

/* the values of load.c */
static const char *const first_names[] = {"Ada",   "Grace",   "Linus", "Émilie", "Zoë",
                                          "Søren", "O'Brien", "Nuño",  "李",     "Amélie"};
static const char *const last_names[] = {"Lovelace", "Hopper",      "Torvalds", "du Châtelet",
                                         "Ng",       "Kierkegaard", "Müller",   "Peña",
                                         "王",       "Poulain"};
static const char *const tiers[] = {"bronze", "silver", "gold", "platinum"};
static const char *const categories[] = {"books", "games", "garden", "tools", "toys", "music"};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) {
    /* xorshift64*, as load.c */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

/* a row's text values, NUL-terminated */
typedef struct row {
    char v[NCOLS][96];
} row_t;

typedef struct rows {
    row_t *r;
    size_t n, cap;
} rows_t;

static void new_uuid(char out[37]) {
    uint8_t b[16];
    uint64_t a = rnd(), c = rnd();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* timestamp text as PostgreSQL prints it: trailing zeros of the fraction dropped */
static void ts_text(int64_t unix_us, char *out, size_t n) {
    time_t s = (time_t)(unix_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char frac[16];
    snprintf(frac, sizeof frac, ".%06d", (int)(unix_us % 1000000));
    size_t l = strlen(frac);
    while (l > 1 && frac[l - 1] == '0') frac[--l] = 0;
    if (l == 1) frac[0] = 0;
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* ---- pgoutput messages, as the walsender sends them ---- */

static void put8(dp_buf_t *b, uint8_t v) { dp_buf_append(b, &v, 1); }
static void put16(dp_buf_t *b, uint16_t v) {
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dp_buf_append(b, p, 2);
}
static void put32(dp_buf_t *b, uint32_t v) {
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    dp_buf_append(b, p, 4);
}
static void put64(dp_buf_t *b, uint64_t v) {
    unsigned char p[8];
    pgo_put_be64(p, v);
    dp_buf_append(b, p, 8);
}
static void putz(dp_buf_t *b, const char *s) { dp_buf_append(b, s, strlen(s) + 1); }

static void relation_msg(dp_buf_t *b, int t) {
    put8(b, 'R');
    put32(b, tables[t].relid);
    putz(b, "public");
    putz(b, tables[t].name);
    put8(b, 'd'); /* REPLICA IDENTITY DEFAULT: the primary key */
    put16(b, NCOLS);
    for (int i = 0; i < NCOLS; i++) {
        const col_def_t *c = &tables[t].cols[i];
        put8(b, (uint8_t)c->in_pk);
        putz(b, c->name);
        put32(b, c->oid);
        put32(b, (uint32_t)c->typmod);
    }
}

/* an Insert ('I') or Update ('U', no old tuple: the key did not change
 * and the replica identity is the default) of row */
static void change_msg(dp_buf_t *b, char kind, int t, const row_t *row) {
    put8(b, (uint8_t)kind);
    put32(b, tables[t].relid);
    put8(b, 'N');
    put16(b, NCOLS);
    for (int i = 0; i < NCOLS; i++) {
        size_t l = strlen(row->v[i]);
        put8(b, 't');
        put32(b, (uint32_t)l);
        dp_buf_append(b, row->v[i], l);
    }
}

/* the message pool: offsets of each message in bytes */
typedef struct pool {
    dp_buf_t bytes;
    size_t *off, *len;
    size_t n;
} pool_t;

static void pool_mark(pool_t *p, size_t start) {
    p->off[p->n] = start;
    p->len[p->n] = p->bytes.len - start;
    p->n++;
}

/* make_pool: ntx transactions of TXN_CHANGES changes each: per change a
 * table at random, then an insert (a new row) or an update of an earlier
 * row, as load.c's add_stmt picks them with deletes left out */
static void make_pool(pool_t *p, size_t ntx) {
    size_t nmsg = ntx * (TXN_CHANGES + 2);
    dp_buf_init(&p->bytes, (size_t)1 << 30);
    p->off = dp_xcalloc(nmsg, sizeof *p->off);
    p->len = dp_xcalloc(nmsg, sizeof *p->len);
    p->n = 0;
    rows_t rows[2] = {{0}, {0}};
    int64_t ts = 1796283247000000LL; /* 2026-12-03 07:34:07 UTC */
    uint32_t xid = 748000;
    uint64_t lsn = 0x1A000000ULL;
    for (size_t x = 0; x < ntx; x++) {
        ts += (int64_t)(rnd() % 2000) + 500; /* about one transaction per ms */
        char now[40];
        ts_text(ts, now, sizeof now);
        size_t start = p->bytes.len;
        put8(&p->bytes, 'B');
        put64(&p->bytes, lsn + 64 * 300); /* final LSN */
        put64(&p->bytes, (uint64_t)(ts - PG_EPOCH_US));
        put32(&p->bytes, xid);
        pool_mark(p, start);
        for (int k = 0; k < TXN_CHANGES; k++) {
            int t = (int)(rnd() % 2);
            rows_t *rs = &rows[t];
            int insert = rs->n < 20 || rnd() % 85 < 50; /* load.c: 50 % c, 35 % u, 15 % d */
            row_t *row;
            if (insert) {
                if (rs->n == rs->cap) {
                    rs->cap = rs->cap ? rs->cap * 2 : 1024;
                    rs->r = dp_xrealloc(rs->r, sizeof *rs->r * rs->cap);
                }
                row = &rs->r[rs->n++];
                memset(row, 0, sizeof *row);
                char id[37];
                new_uuid(id);
                snprintf(row->v[0], sizeof row->v[0], "%s", id);
                if (t == T_USERS) {
                    snprintf(row->v[1], sizeof row->v[1], "user-%s@example.com", id);
                    snprintf(row->v[2], sizeof row->v[2], "%s", first_names[rnd() % 10]);
                    snprintf(row->v[3], sizeof row->v[3], "%s", last_names[rnd() % 10]);
                    snprintf(row->v[4], sizeof row->v[4], "%s", tiers[rnd() % 4]);
                } else {
                    snprintf(row->v[1], sizeof row->v[1], "Product %s", id);
                    snprintf(row->v[2], sizeof row->v[2], "%s", categories[rnd() % 6]);
                    snprintf(row->v[3], sizeof row->v[3], "%llu.%02llu",
                             (unsigned long long)(rnd() % 10000),
                             (unsigned long long)(rnd() % 100));
                    snprintf(row->v[4], sizeof row->v[4], "%s", rnd() % 5 ? "t" : "f");
                }
                snprintf(row->v[5], sizeof row->v[5], "%s", now);
            } else {
                row = &rs->r[rnd() % rs->n];
                if (t == T_USERS) {
                    snprintf(row->v[4], sizeof row->v[4], "%s", tiers[rnd() % 4]);
                    snprintf(row->v[3], sizeof row->v[3], "%s", last_names[rnd() % 10]);
                } else {
                    snprintf(row->v[3], sizeof row->v[3], "%llu.%02llu",
                             (unsigned long long)(rnd() % 10000),
                             (unsigned long long)(rnd() % 100));
                    snprintf(row->v[4], sizeof row->v[4], "%s", rnd() % 5 ? "t" : "f");
                }
            }
            snprintf(row->v[6], sizeof row->v[6], "%s", now); /* updated_at: the trigger */
            start = p->bytes.len;
            change_msg(&p->bytes, insert ? 'I' : 'U', t, row);
            pool_mark(p, start);
        }
        start = p->bytes.len;
        put8(&p->bytes, 'C');
        put8(&p->bytes, 0);
        put64(&p->bytes, lsn + 64 * 300); /* commit LSN */
        put64(&p->bytes, lsn + 64 * 300 + 56); /* end LSN */
        put64(&p->bytes, (uint64_t)(ts - PG_EPOCH_US));
        pool_mark(p, start);
        lsn += 64 * 300 + 128;
        xid++;
    }
    free(rows[0].r);
    free(rows[1].r);
}

static void pool_free(pool_t *p) {
    dp_buf_fini(&p->bytes);
    free(p->off);
    free(p->len);
}

/* ---- capture's state and steps, as far as encoding goes ---- */

typedef struct bench_table {
    uint32_t relid;
    dbz_table_t t;
    dbz_plan_t plan;
    const char *topic;
} bench_table_t;

typedef struct bench {
    /* the configuration of the path */
    dbz_options_t opt;
    int provide_transaction_metadata;
    int tombstones_on_delete;
    /* capture_t's fields the encoding uses */
    pgo_decoder_t *dec;
    bench_table_t tables[2];
    uint32_t xid;
    int64_t commit_ts_us;
    uint64_t last_commit_lsn;
    dbz_pipeline_t pipe;
    dbz_txmeta_t txm;
    dbz_unwrap_t *unwrap;
    /* convert.c's struct capture_avro, without the registry clients */
    dp_avro_conv_t *avro_key, *avro_value;
    /* what produce() would have been handed */
    uint64_t records, key_bytes, value_bytes, events;
} bench_t;

/* fake_register: the schema registry, without a server: one id per subject
 * (what a registry answers for the first version of each subject) */
static dp_err_t fake_register(void *ctx, const char *subject, const char *schema, size_t len,
                              int32_t *id, char *errstr, size_t n) {
    (void)subject, (void)schema, (void)len, (void)errstr, (void)n;
    int32_t *next = ctx;
    *id = ++*next;
    return DP_OK;
}
static int32_t next_schema_id;

/* produce: the sink in place of capture's produce() (librdkafka copies
 * key and value; here they are only counted) */
static dp_err_t produce(bench_t *b, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)key, (void)val;
    b->records++;
    b->key_bytes += klen;
    b->value_bytes += vlen;
    return DP_OK;
}

/* txmeta_send: events.c's txmeta_send() */
static dp_err_t txmeta_send(bench_t *b, int end, uint64_t lsn, int64_t commit_ts_us, char *errstr,
                            size_t n) {
    dbz_record_t rec;
    dp_err_t err =
        dbz_pipeline_txmeta(&b->pipe, &b->txm, end, lsn, commit_ts_us, TX_TOPIC, &rec, errstr, n);
    if (err) return err;
    return produce(b, rec.key, rec.klen, rec.value, rec.vlen);
}

/* txmeta_count: events.c's txmeta_count() */
static dp_err_t txmeta_count(bench_t *b, const bench_table_t *te, uint64_t lsn,
                             const char *snapshot, dbz_txblock_t *tb, const dbz_txblock_t **block,
                             char *errstr, size_t n) {
    *block = NULL;
    if (!b->provide_transaction_metadata || strcmp(snapshot, "false") != 0) return DP_OK;
    if (dbz_txmeta_event(&b->txm, te->t.schema, te->t.table, lsn, tb))
        return dp_seterr(errstr, n, DP_ERR_NOMEM, "transaction %u touches too many tables", b->xid);
    *block = tb;
    return DP_OK;
}

/* emit: events.c's capture_emit() and send_event() without metrics */
static dp_err_t emit(bench_t *b, bench_table_t *te, char op, const pgo_tuple_t *before,
                     const pgo_tuple_t *after, uint64_t lsn, int64_t now, const char *snapshot,
                     char *errstr, size_t n) {
    dbz_txblock_t txb;
    const dbz_txblock_t *txp;
    dp_err_t err = txmeta_count(b, te, lsn, snapshot, &txb, &txp, errstr, n);
    if (err) return err;
    dbz_event_t ev = {&te->t,
                      op,
                      before,
                      after,
                      {b->commit_ts_us, b->xid, lsn, b->last_commit_lsn, snapshot, txp},
                      now};
    dbz_record_t rec;
    if ((err = dbz_pipeline_event(&b->pipe, &te->plan, te->topic, &ev, &rec, errstr, n)))
        return err;
    if (!rec.drop && b->unwrap && dbz_unwrap_nheaders(b->unwrap))
        return dp_seterr(errstr, n, DP_ERR_UNSUPPORTED, "add.headers is not benchmarked");
    if (!rec.drop && (err = produce(b, rec.key, rec.klen, rec.value, rec.vlen))) return err;
    b->events++;
    if (op != 'd' || !b->tombstones_on_delete) return DP_OK;
    if ((err = dbz_pipeline_tombstone(&b->pipe, &rec, errstr, n)) || rec.drop) return err;
    return produce(b, rec.key, rec.klen, NULL, 0);
}

static bench_table_t *find_table(bench_t *b, uint32_t relid) {
    for (size_t i = 0; i < 2; i++)
        if (b->tables[i].relid == relid) return &b->tables[i];
    return NULL;
}

/* on_change: events.c's on_change() (no skipped.operations but the default "t") */
static dp_err_t on_change(bench_t *b, const pgo_msg_t *m, uint64_t lsn, char *errstr, size_t n) {
    bench_table_t *te = find_table(b, m->u.change.relid);
    if (!te)
        return dp_seterr(errstr, n, DP_ERR_PROTO, "change for unknown relation %u",
                         m->u.change.relid);
    int64_t now = dp_wall_us();
    const pgo_tuple_t *old = m->u.change.old_kind ? &m->u.change.old_tuple : NULL;
    switch (m->kind) {
    case PGO_INSERT:
        return emit(b, te, 'c', NULL, &m->u.change.new_tuple, lsn, now, "false", errstr, n);
    case PGO_UPDATE:
        if (old && te->t.nkeys && dbz_key_changed(&te->t, old, &m->u.change.new_tuple)) {
            dp_err_t err = emit(b, te, 'd', old, NULL, lsn, now, "false", errstr, n);
            if (err) return err;
            return emit(b, te, 'c', NULL, &m->u.change.new_tuple, lsn, now, "false", errstr, n);
        }
        return emit(b, te, 'u', old, &m->u.change.new_tuple, lsn, now, "false", errstr, n);
    case PGO_DELETE: return emit(b, te, 'd', old, NULL, lsn, now, "false", errstr, n);
    default: return DP_OK;
    }
}

/* on_message: events.c's capture_on_xlogdata() for Begin, Commit and changes
 * (the ring and exactly-once bookkeeping left out) */
static dp_err_t on_message(bench_t *b, const unsigned char *p, size_t len, uint64_t lsn,
                           char *errstr, size_t n) {
    pgo_msg_t m;
    dp_err_t err = pgo_decode(b->dec, p, len, &m, errstr, n);
    if (err) return err;
    switch (m.kind) {
    case PGO_BEGIN:
        b->xid = m.u.begin.xid;
        b->commit_ts_us = m.u.begin.commit_ts + PG_EPOCH_US;
        if (!b->provide_transaction_metadata) return DP_OK;
        dbz_txmeta_begin(&b->txm, b->xid);
        return txmeta_send(b, 0, lsn, b->commit_ts_us, errstr, n);
    case PGO_COMMIT:
        if (b->provide_transaction_metadata &&
            (err = txmeta_send(b, 1, lsn, m.u.commit.commit_ts + PG_EPOCH_US, errstr, n)))
            return err;
        b->last_commit_lsn = m.u.commit.end_lsn;
        return DP_OK;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE: return on_change(b, &m, lsn, errstr, n);
    default: return dp_seterr(errstr, n, DP_ERR_PROTO, "unexpected '%c' message", (char)m.kind);
    }
}

/* ---- the paths ---- */

typedef struct path {
    const char *name, *what;
    int schemas, avro, unwrap, txmeta;
} path_t;

static const path_t paths[] = {
    {"json", "JsonConverter, schemas enabled", 1, 0, 0, 0},
    {"json-noschema", "JsonConverter, schemas.enable=false", 0, 0, 0, 0},
    {"avro", "AvroConverter (key and value)", 1, 1, 0, 0},
    {"avro-unwrap", "AvroConverter + ExtractNewRecordState", 1, 1, 1, 0},
    {"json-txmeta", "JsonConverter + provide.transaction.metadata", 1, 0, 0, 1},
    {"avro-txmeta", "AvroConverter + provide.transaction.metadata", 1, 1, 0, 1},
};
#define NPATHS (sizeof paths / sizeof paths[0])

/* bench_setup: what capture_setup, capture_convert_setup, setup_transforms
 * and txmeta_setup do for this path, then bind both tables (on_relation) */
static dp_err_t bench_setup(bench_t *b, const path_t *p, char *errstr, size_t n) {
    memset(b, 0, sizeof *b);
    b->opt.topic_prefix = TOPIC_PREFIX;
    b->opt.dbname = DBNAME;
    b->opt.schemas_enable = p->schemas; /* AvroConverter forces both on */
    b->opt.key_schemas_enable = p->schemas;
    b->provide_transaction_metadata = p->txmeta;
    b->tombstones_on_delete = 1;
    b->dec = dp_xcalloc(1, sizeof *b->dec);
    dbz_txmeta_init(&b->txm);
    dp_err_t err;
    if (p->avro) {
        b->avro_key =
            dp_avro_conv_new(1, MAX_EVENT_BYTES, MAX_SCHEMAS, fake_register, &next_schema_id);
        b->avro_value =
            dp_avro_conv_new(0, MAX_EVENT_BYTES, MAX_SCHEMAS, fake_register, &next_schema_id);
    }
    if (p->unwrap) {
        char *keys[NUNWRAP], *values[NUNWRAP];
        for (size_t i = 0; i < NUNWRAP; i++) {
            keys[i] = (char *)UNWRAP_CONFIG[i][0];
            values[i] = (char *)UNWRAP_CONFIG[i][1];
        }
        cfg_kv_t kv = {keys, values, NUNWRAP};
        b->unwrap = dp_xcalloc(1, sizeof *b->unwrap);
        if ((err = dbz_unwrap_init(b->unwrap, "unwrap", &kv, b->opt.schemas_enable, MAX_EVENT_BYTES,
                                   errstr, n))) {
            free(b->unwrap);
            b->unwrap = NULL;
            return err;
        }
    }
    dbz_pipeline_init(&b->pipe, &b->opt, b->unwrap, b->avro_key, b->avro_value, MAX_EVENT_BYTES);
    dp_buf_t rel;
    dp_buf_init(&rel, 1 << 16);
    for (int t = 0; t < 2; t++) {
        dp_buf_reset(&rel);
        relation_msg(&rel, t);
        pgo_msg_t m;
        if ((err = pgo_decode(b->dec, rel.data, rel.len, &m, errstr, n))) break;
        dbz_catalog_col_t cat[NCOLS];
        memset(cat, 0, sizeof cat);
        for (int i = 0; i < NCOLS; i++) {
            const col_def_t *c = &tables[t].cols[i];
            cat[i].name = c->name;
            cat[i].not_null = c->not_null;
            cat[i].in_pk = c->in_pk;
            cat[i].type_name = c->type_name;
            cat[i].default_expr = c->default_expr;
        }
        b->tables[t].relid = m.u.relation.relid;
        b->tables[t].topic = tables[t].topic;
        if ((err = dbz_table_init(&b->tables[t].t, &m.u.relation, cat, NCOLS, &b->opt, errstr, n)))
            break;
    }
    dp_buf_fini(&rel);
    return err;
}

static void bench_fini(bench_t *b) {
    for (int t = 0; t < 2; t++) {
        if (b->tables[t].t.cols) dbz_table_fini(&b->tables[t].t);
        dbz_plan_fini(&b->tables[t].plan);
    }
    dp_avro_conv_destroy(b->avro_key);
    dp_avro_conv_destroy(b->avro_value);
    dbz_unwrap_fini(b->unwrap);
    free(b->unwrap);
    dbz_txmeta_fini(&b->txm);
    dbz_pipeline_fini(&b->pipe);
    free(b->dec);
}

/* run_messages: feed the pool's messages from *next on until events
 * change events were encoded; *lsn advances as the stream's would */
static dp_err_t run_messages(bench_t *b, const pool_t *p, size_t *next, uint64_t events,
                             uint64_t *lsn, char *errstr, size_t n) {
    uint64_t until = b->events + events;
    while (b->events < until) {
        size_t i = *next;
        *next = i + 1 == p->n ? 0 : i + 1;
        *lsn += 200;
        dp_err_t err = on_message(b, p->bytes.data + p->off[i], p->len[i], *lsn, errstr, n);
        if (err) return err;
    }
    return DP_OK;
}

/* bench_timed: the measured part (callgrind --toggle-collect=bench_timed*) */
__attribute__((noinline)) dp_err_t bench_timed(bench_t *b, const pool_t *p, size_t *next,
                                               uint64_t events, uint64_t *lsn, char *errstr,
                                               size_t n);
__attribute__((noinline)) dp_err_t bench_timed(bench_t *b, const pool_t *p, size_t *next,
                                               uint64_t events, uint64_t *lsn, char *errstr,
                                               size_t n) {
    return run_messages(b, p, next, events, lsn, errstr, n);
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* show: bytes as text, others as \xNN */
static void show(const char *what, const dp_buf_t *b) {
    fprintf(stderr, "  %s (%zu bytes): ", what, b->len);
    for (size_t i = 0; i < b->len; i++) {
        uint8_t c = b->data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

static int run_path(const path_t *p, const pool_t *pool, uint64_t events, int show_last) {
    bench_t b;
    char err[512];
    if (bench_setup(&b, p, err, sizeof err)) {
        fprintf(stderr, "bench_encode: %s: %s\n", p->name, err);
        bench_fini(&b);
        return 1;
    }
    size_t next = 0;
    uint64_t lsn = 0x1A000000ULL;
    /* warm-up: the first transaction, untimed */
    dp_err_t e = run_messages(&b, pool, &next, TXN_CHANGES, &lsn, err, sizeof err);
    uint64_t records0 = b.records, kb0 = b.key_bytes, vb0 = b.value_bytes, ev0 = b.events;
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (!e) e = bench_timed(&b, pool, &next, events, &lsn, err, sizeof err);
    double secs = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (e) {
        fprintf(stderr, "bench_encode: %s: %s\n", p->name, err);
        bench_fini(&b);
        return 1;
    }
    uint64_t ev = b.events - ev0, rec = b.records - records0;
    double d = ev ? (double)ev : 1;
    printf("%-14s %9llu %9.3f %12.0f %10.1f %10.1f %8.1f %8.1f %7.3f\n", p->name,
           (unsigned long long)ev, secs, secs > 0 ? (double)ev / secs : 0, ev ? secs * 1e9 / d : 0,
           ev ? cpu * 1e9 / d : 0, (double)(b.key_bytes - kb0) / d,
           (double)(b.value_bytes - vb0) / d, (double)rec / d);
    fflush(stdout);
    if (show_last) { /* the last record produced */
        fprintf(stderr, "%s, last record:\n", p->name);
        show("key", &b.pipe.key);
        show("value", &b.pipe.value);
    }
    bench_fini(&b);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_encode [--events N] [--path NAME] [--show]\n"
            "  --events N   change events per path (default 100000; 0: setup and warm-up only)\n"
            "  --path NAME  one path only:");
    for (size_t i = 0; i < NPATHS; i++) fprintf(f, " %s", paths[i].name);
    fprintf(f, "\n  --show       print each path's last record (key and value) to stderr\n");
}

int main(int argc, char **argv) {
    uint64_t events = 100000;
    const char *only = NULL;
    int show_last = 0;
    static const struct option longopts[] = {{"events", required_argument, NULL, 'n'},
                                             {"path", required_argument, NULL, 'p'},
                                             {"show", no_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:p:sh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "bench_encode: --events takes a count, not \"%s\"\n", optarg);
                return 2;
            }
            events = v;
            break;
        }
        case 'p': only = optarg; break;
        case 's': show_last = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    const path_t *one = NULL;
    for (size_t i = 0; only && i < NPATHS; i++)
        if (strcmp(only, paths[i].name) == 0) one = &paths[i];
    if (only && !one) {
        fprintf(stderr, "bench_encode: no path \"%s\"\n", only);
        usage(stderr);
        return 2;
    }
    dp_log_set_level_name("warn");

    pool_t pool;
    make_pool(&pool, POOL_TXNS);
    printf("bench_encode: %llu change events per path (inserts and updates of users and "
           "products, %d per transaction), pgoutput bytes to key and value bytes\n",
           (unsigned long long)events, TXN_CHANGES);
    printf("%-14s %9s %9s %12s %10s %10s %8s %8s %7s\n", "path", "events", "seconds", "events/s",
           "ns/event", "cpu ns/ev", "key B", "value B", "rec/ev");
    int rc = 0;
    for (size_t i = 0; i < NPATHS && !rc; i++)
        if (!one || one == &paths[i]) rc = run_path(&paths[i], &pool, events, show_last);
    pool_free(&pool);
    return rc;
}
