/* events.c - from pgoutput messages to Kafka records: the relations and
 * their topics (RegexRouter, message.key.columns), change and truncate
 * events through the event pipeline (src/event/pipeline.h), and the
 * transaction metadata records. capture.c owns the loop around it, the
 * producer and the acknowledgement ring. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/internal.h"
#include "capture/metrics.h"
#include "common/clock.h"
#include "common/log.h"
#include "event/debezium.h"
#include "kafka/kafka.h"
#include "pg/catalog.h"
#include "pg/pgoutput.h"
#include "pg/repl.h"

/* ---- transaction metadata (provide.transaction.metadata) ---- */

/* txmeta_setup: resolve <topic.prefix>.<topic.transaction> through the
 * transforms, as Debezium's records are; it must exist */
dp_err_t capture_txmeta_setup(capture_t *c, char *errstr, size_t n) {
    char base[1200];
    snprintf(base, sizeof base, "%s.%s", c->s.topic_prefix, c->s.topic_transaction);
    dbz_txmeta_init(&c->txm);
    c->tx_te.topic = cap_route(&c->tf, base);
    dp_err_t err = capture_topic_ready(c, c->tx_te.topic, "transaction metadata", errstr, n);
    if (err) return err;
    c->tx_te.rkt = rd_kafka_topic_new(c->rk, c->tx_te.topic, NULL);
    return DP_OK;
}

/* txmeta_send: the open transaction's BEGIN (end 0) or END record, at the
 * LSN of the pgoutput message, acknowledged with the transaction's events */
static dp_err_t txmeta_send(capture_t *c, int end, uint64_t lsn, int64_t commit_ts_us, char *errstr,
                            size_t n) {
    dbz_record_t rec;
    dp_err_t err = capture_encode_txmeta(c, end, lsn, commit_ts_us, &rec, errstr, n);
    if (err) return err;
    return capture_produce(c, &c->tx_te, rec.key, rec.klen, rec.value, rec.vlen, errstr, n);
}

/* txmeta_count: count a streamed event of te; *block is its envelope's
 * transaction block, NULL when the feature is off or for snapshot reads
 * (Debezium gives those none) */
static dp_err_t txmeta_count(capture_t *c, const table_entry_t *te, uint64_t lsn,
                             const char *snapshot, dbz_txblock_t *b, const dbz_txblock_t **block,
                             char *errstr, size_t n) {
    *block = NULL;
    if (!c->s.provide_transaction_metadata || strcmp(snapshot, "false") != 0) return DP_OK;
    if (dbz_txmeta_event(&c->txm, te->t.schema, te->t.table, lsn, b))
        return dp_seterr(errstr, n, DP_ERR_NOMEM,
                         "transaction %u touches more tables than "
                         "provide.transaction.metadata can count",
                         c->xid);
    *block = b;
    return DP_OK;
}

/* ---- relations ---- */

table_entry_t *capture_find_table(capture_t *c, uint32_t relid) {
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i].relid == relid) return &c->tables[i];
    return NULL;
}

table_entry_t *capture_add_table(capture_t *c, uint32_t relid) {
    table_entry_t *te = capture_find_table(c, relid);
    if (te) return te;
    c->tables = dp_xrealloc(c->tables, sizeof *c->tables * (c->ntables + 1));
    te = &c->tables[c->ntables++];
    memset(te, 0, sizeof *te);
    te->relid = relid;
    return te;
}

static dp_err_t on_relation(capture_t *c, const pgo_msg_t *m, char *errstr, size_t n) {
    return capture_bind_table(c, capture_add_table(c, m->u.relation.relid), &m->u.relation, errstr,
                              n);
}

dp_err_t capture_bind_table(capture_t *c, table_entry_t *te, const pgo_relation_t *rel,
                            char *errstr, size_t n) {
    if (te->t.cols) dbz_table_fini(&te->t);
    dbz_plan_fini(&te->plan);
    /* catalog facts pgoutput does not carry: NOT NULL and the primary key */
    pgcat_facts_t facts;
    dp_err_t err = c->catalog ? c->catalog(c, rel->relid, &facts, errstr, n)
                              : pgcat_facts(c->sql, rel->relid, &facts, errstr, n);
    if (err) return err;
    int nc = facts.n;
    dbz_catalog_col_t *cat = facts.cols;
    /* message.key.columns replaces the primary key as the message key */
    char full[1024];
    snprintf(full, sizeof full, "%.*s.%.*s", (int)rel->nspname.len, rel->nspname.p,
             (int)rel->relname.len, rel->relname.p);
    const cap_key_override_t *ko = cap_key_override(&c->tf, full);
    for (size_t k = 0; ko && k < ko->ncols; k++) {
        int found = 0;
        for (int i = 0; i < nc; i++) found |= strcmp(cat[i].name, ko->cols[k]) == 0;
        if (!found) {
            dp_err_t e =
                dp_seterr(errstr, n, DP_ERR_CONFIG,
                          "\"message.key.columns\" names column \"%s\" that table \"%.*s.%.*s\" "
                          "does not have",
                          ko->cols[k], (int)rel->nspname.len, rel->nspname.p, (int)rel->relname.len,
                          rel->relname.p);
            pgcat_facts_fini(&facts);
            return e;
        }
    }
    for (int i = 0; ko && i < nc; i++) {
        cat[i].in_pk = 0;
        for (size_t k = 0; k < ko->ncols; k++)
            cat[i].in_pk |= strcmp(cat[i].name, ko->cols[k]) == 0;
    }
    err = dbz_table_init(&te->t, rel, cat, (size_t)nc, &c->opt, errstr, n);
    pgcat_facts_fini(&facts);
    if (err) return err;

    snprintf(full, sizeof full, "%s.%s", te->t.schema, te->t.table);
    te->included = (c->include.n == 0 || dp_relist_match(&c->include, full)) &&
        !dp_relist_match(&c->exclude, full);
    if (!te->included) return DP_OK;
    char base[1200];
    snprintf(base, sizeof base, "%s.%s.%s", c->s.topic_prefix, te->t.schema, te->t.table);
    char *topic = cap_route(&c->tf, base);
    /* a new topic, or one whose check failed before (no rkt): checked
     * (and created) before its first record */
    if (!te->topic || strcmp(te->topic, topic) != 0 || !te->rkt) {
        free(te->topic);
        te->topic = topic;
        if (te->rkt) rd_kafka_topic_destroy(te->rkt);
        te->rkt = NULL;
        char what[1100];
        snprintf(what, sizeof what, "table \"%s\"", full);
        if ((err = capture_topic_ready(c, te->topic, what, errstr, n))) return err;
        te->rkt = rd_kafka_topic_new(c->rk, te->topic, NULL);
    } else {
        free(topic);
    }
    dp_info(MOD, "table \"%s\" -> topic \"%s\" (%u columns, %d key columns)", full, te->topic,
            te->t.ncols, te->t.nkeys);
    return dbz_pipeline_prepare(&c->pipe, &te->plan, &te->t, errstr, n);
}

/* ---- changes ---- */

static dp_err_t emit(capture_t *c, table_entry_t *te, char op, const pgo_tuple_t *before,
                     const pgo_tuple_t *after, uint64_t lsn, int64_t now_us, char *errstr,
                     size_t n) {
    return capture_emit(c, te, op, before, after, lsn, now_us, "false", errstr, n);
}

/* take_headers: the add.headers of the transform for the record just
 * made, to go with the next produce() */
static void take_headers(capture_t *c, const dbz_record_t *rec) {
    size_t nh = c->tf.unwrap ? dbz_unwrap_nheaders(c->tf.unwrap) : 0;
    if (rec->drop || !nh) return;
    if (c->next_headers) rd_kafka_headers_destroy(c->next_headers);
    c->next_headers = rd_kafka_headers_new(nh);
    for (size_t i = 0; i < nh; i++) {
        const char *name;
        const void *v;
        size_t l;
        dbz_unwrap_header(c->tf.unwrap, i, &name, &v, &l);
        rd_kafka_header_add(c->next_headers, name, -1, v, (ssize_t)l);
    }
}

/* send_event: encode ev through the pipeline and produce its record (and, for
 * a delete, its tombstone); counts what it sent */
static dp_err_t send_event(capture_t *c, table_entry_t *te, const dbz_event_t *ev, char *errstr,
                           size_t n) {
    dbz_record_t rec;
    dp_err_t err = capture_encode(c, te, ev, &rec, errstr, n);
    if (err) return err;
    take_headers(c, &rec);
    if (!rec.drop &&
        (err = capture_produce(c, te, rec.key, rec.klen, rec.value, rec.vlen, errstr, n)))
        return err;
    c->events++;
    int64_t lag = strcmp(ev->source.snapshot, "false") ? -1 : (ev->now_us - c->commit_ts_us) / 1000;
    capture_metrics_event(c->met, te->t.schema, te->t.table, ev->op, lag);
    if (ev->op != 'd' || !c->s.tombstones_on_delete) return DP_OK;
    /* Debezium sends the tombstone for key-less tables too, key null */
    if ((err = dbz_pipeline_tombstone(&c->pipe, &rec, errstr, n))) return err;
    take_headers(c, &rec);
    if (rec.drop) return DP_OK;
    err = capture_produce(c, te, rec.key, rec.klen, NULL, 0, errstr, n);
    c->tombstones++;
    return err;
}

dp_err_t capture_emit(capture_t *c, table_entry_t *te, char op, const pgo_tuple_t *before,
                      const pgo_tuple_t *after, uint64_t lsn, int64_t now_us, const char *snapshot,
                      char *errstr, size_t n) {
    dbz_txblock_t txb;
    const dbz_txblock_t *txp;
    dp_err_t err = txmeta_count(c, te, lsn, snapshot, &txb, &txp, errstr, n);
    if (err) return err;
    dbz_event_t ev = {&te->t,
                      op,
                      before,
                      after,
                      {c->commit_ts_us, c->xid, lsn, c->last_commit_lsn, snapshot, txp},
                      now_us};
    return send_event(c, te, &ev, errstr, n);
}

static dp_err_t on_change(capture_t *c, const pgo_msg_t *m, uint64_t lsn, char *errstr, size_t n) {
    table_entry_t *te = capture_find_table(c, m->u.change.relid);
    if (!te)
        return dp_seterr(errstr, n, DP_ERR_PROTO,
                         "change for relation %u before its Relation message", m->u.change.relid);
    if (!te->included) return DP_OK;
    int64_t now = dp_wall_us(); /* the event's processing time */
    const pgo_tuple_t *old = m->u.change.old_kind ? &m->u.change.old_tuple : NULL;
    switch (m->kind) {
    case PGO_INSERT:
        if (c->skip_c) return DP_OK;
        return emit(c, te, 'c', NULL, &m->u.change.new_tuple, lsn, now, errstr, n);
    case PGO_UPDATE:
        if (old && te->t.nkeys && dbz_key_changed(&te->t, old, &m->u.change.new_tuple)) {
            /* a primary key change is a delete of the old key and a create
             * of the new one, as Debezium emits it */
            dp_err_t err = c->skip_d ? DP_OK : emit(c, te, 'd', old, NULL, lsn, now, errstr, n);
            if (err || c->skip_c) return err;
            return emit(c, te, 'c', NULL, &m->u.change.new_tuple, lsn, now, errstr, n);
        }
        if (c->skip_u) return DP_OK;
        return emit(c, te, 'u', old, &m->u.change.new_tuple, lsn, now, errstr, n);
    case PGO_DELETE:
        if (c->skip_d) return DP_OK;
        return emit(c, te, 'd', old, NULL, lsn, now, errstr, n);
    default: return DP_OK;
    }
}

static dp_err_t on_truncate(capture_t *c, const pgo_msg_t *m, uint64_t lsn, char *errstr,
                            size_t n) {
    if (c->skip_t) return DP_OK;
    for (uint32_t i = 0; i < m->u.truncate.nrels; i++) {
        table_entry_t *te = capture_find_table(c, pgo_truncate_relid(m, i));
        if (!te || !te->included) continue;
        dbz_txblock_t txb;
        const dbz_txblock_t *txp;
        dp_err_t err = txmeta_count(c, te, lsn, "false", &txb, &txp, errstr, n);
        if (err) return err;
        dbz_event_t ev = {&te->t,
                          't',
                          NULL,
                          NULL,
                          {c->commit_ts_us, c->xid, lsn, c->last_commit_lsn, "false", txp},
                          dp_wall_us()};
        if ((err = send_event(c, te, &ev, errstr, n)))
            return err; /* the transform drops truncates */
    }
    return DP_OK;
}

/* on_xlogdata: one pgoutput message at WAL position lsn */
dp_err_t capture_on_xlogdata(capture_t *c, const unsigned char *p, size_t len, uint64_t lsn,
                             char *errstr, size_t n) {
    pgo_msg_t m;
    dp_err_t err = pgo_decode(c->dec, p, len, &m, errstr, n);
    if (err) return err;
    switch (m.kind) {
    case PGO_BEGIN: {
        if ((err = capture_begin_txn(c, errstr, n))) return err;
        capture_eos_on_begin(c, m.u.begin.final_lsn);
        c->xid = m.u.begin.xid;
        c->commit_ts_us = m.u.begin.commit_ts + REPL_PG_EPOCH_US;
        if (!c->s.provide_transaction_metadata) return DP_OK;
        dbz_txmeta_begin(&c->txm, c->xid); /* BEGIN even if no captured event follows */
        return txmeta_send(c, 0, lsn, c->commit_ts_us, errstr, n);
    }
    case PGO_COMMIT: {
        if (!c->acks.open) return dp_seterr(errstr, n, DP_ERR_PROTO, "commit without begin");
        if (c->s.provide_transaction_metadata &&
            (err = txmeta_send(c, 1, lsn, m.u.commit.commit_ts + REPL_PG_EPOCH_US, errstr, n)))
            return err;
        capture_end_txn(c, m.u.commit.end_lsn);
        c->last_commit_lsn = m.u.commit.end_lsn; /* Debezium's sequence[0] */
        c->txns++;
        if (m.u.commit.end_lsn > c->received_lsn) c->received_lsn = m.u.commit.end_lsn;
        return DP_OK;
    }
    case PGO_RELATION: return on_relation(c, &m, errstr, n);
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        if (!c->acks.open)
            return dp_seterr(errstr, n, DP_ERR_PROTO, "change outside a transaction");
        return on_change(c, &m, lsn, errstr, n);
    case PGO_TRUNCATE: return on_truncate(c, &m, lsn, errstr, n);
    case PGO_TYPE:
    case PGO_ORIGIN:
    case PGO_MESSAGE: return DP_OK;
    }
    return DP_OK;
}
