/* avro_event.c - the AvroConverter writer of typed change events. */
#include "event/avro_event.h"

#include <stdio.h>
#include <string.h>

typedef struct wr {
    const dbz_event_t *ev;
    const dbz_options_t *opt;
    dp_avro_tok_t *k;
    dp_buf_t *out;
    char *errstr;
    size_t n;
} wr_t;

static dp_err_t mismatch(wr_t *w, const char *what, const char *field) {
    return dp_seterr(w->errstr, w->n, DP_ERR_INVALID, "avro: %s of table \"%s.%s\": field \"%s\" "
                     "does not match the table's columns", what, w->ev->table->schema,
                     w->ev->table->table, field);
}

/* put_row: the columns of row (the key columns only for a key) as the
 * record t, field by field in column order */
static dp_err_t put_row(wr_t *w, const dp_avro_type_t *t, const pgo_tuple_t *row, int keys_only) {
    static const pgo_value_t null_value = {PGO_VAL_NULL, NULL, 0};
    const dbz_table_t *tb = w->ev->table;
    uint32_t f = 0, nf = dp_avro_nfields(t);
    dp_err_t err;
    for (uint16_t i = 0; i < tb->ncols; i++) {
        const dbz_column_t *c = &tb->cols[i];
        if ((keys_only && !c->in_key) || c->omit) continue;
        if (f >= nf || strcmp(dp_avro_field_name(t, f), c->name) != 0)
            return mismatch(w, keys_only ? "key" : "row", c->name);
        dp_buf_reset(&w->k->text);
        dbz_put_value(&w->k->text, c, i < row->ncols ? &row->cols[i] : &null_value);
        if ((err = dp_avro_put_token(dp_avro_field_type(t, f), (const char *)w->k->text.data, w->k->text.len,
                                     w->k, w->out, c->name, w->errstr, w->n)))
            return err;
        f++;
    }
    return f == nf ? DP_OK : mismatch(w, keys_only ? "key" : "row", dp_avro_field_name(t, f));
}

static dp_err_t put_str(wr_t *w, const dp_avro_type_t *t, const char *name, const char *s) {
    return dp_avro_put_string(t, s, strlen(s), w->out, name, w->errstr, w->n);
}

static dp_err_t put_int(wr_t *w, const dp_avro_type_t *t, const char *name, int64_t v) {
    return dp_avro_put_integer(t, v, w->out, name, w->errstr, w->n);
}

/* the source block, field by field as the schema orders them */
static dp_err_t put_source(wr_t *w, const dp_avro_type_t *t) {
    const dbz_event_t *ev = w->ev;
    const dbz_source_t *src = &ev->source;
    int64_t cts = src->commit_ts_us;
    dp_err_t err = dp_avro_put_present(t, w->out);
    for (uint32_t f = 0; f < dp_avro_nfields(t) && !err; f++) {
        const char *name = dp_avro_field_name(t, f);
        const dp_avro_type_t *ft = dp_avro_field_type(t, f);
        if (!strcmp(name, "version")) err = put_str(w, ft, name, DBZ_COMPAT_VERSION);
        else if (!strcmp(name, "connector")) err = put_str(w, ft, name, "postgresql");
        else if (!strcmp(name, "name")) err = put_str(w, ft, name, w->opt->topic_prefix);
        else if (!strcmp(name, "ts_ms")) err = put_int(w, ft, name, cts / 1000);
        else if (!strcmp(name, "snapshot"))
            err = put_str(w, ft, name, src->snapshot ? src->snapshot : "false");
        else if (!strcmp(name, "db")) err = put_str(w, ft, name, w->opt->dbname);
        else if (!strcmp(name, "sequence")) {
            /* [end LSN of the last commit, this LSN] as JSON text */
            char seq[64];
            if (src->last_commit_lsn)
                snprintf(seq, sizeof seq, "[\"%llu\",\"%llu\"]",
                         (unsigned long long)src->last_commit_lsn, (unsigned long long)src->lsn);
            else
                snprintf(seq, sizeof seq, "[null,\"%llu\"]", (unsigned long long)src->lsn);
            err = put_str(w, ft, name, seq);
        } else if (!strcmp(name, "ts_us")) err = put_int(w, ft, name, cts);
        else if (!strcmp(name, "ts_ns")) err = put_int(w, ft, name, (int64_t)((uint64_t)cts * 1000));
        else if (!strcmp(name, "schema")) err = put_str(w, ft, name, ev->table->schema);
        else if (!strcmp(name, "table")) err = put_str(w, ft, name, ev->table->table);
        else if (!strcmp(name, "txId")) err = put_int(w, ft, name, src->xid);
        else if (!strcmp(name, "lsn")) err = put_int(w, ft, name, (int64_t)src->lsn);
        else if (!strcmp(name, "xmin")) err = dp_avro_put_null(ft, w->out, name, w->errstr, w->n);
        else err = mismatch(w, "source block", name);
    }
    return err;
}

static dp_err_t put_txblock(wr_t *w, const dp_avro_type_t *t) {
    const dbz_txblock_t *tx = w->ev->source.txn;
    if (!tx) return dp_avro_put_null(t, w->out, "transaction", w->errstr, w->n);
    dp_err_t err = dp_avro_put_present(t, w->out);
    for (uint32_t f = 0; f < dp_avro_nfields(t) && !err; f++) {
        const char *name = dp_avro_field_name(t, f);
        const dp_avro_type_t *ft = dp_avro_field_type(t, f);
        if (!strcmp(name, "id")) {
            char id[48];
            snprintf(id, sizeof id, "%u:%llu", tx->xid, (unsigned long long)tx->lsn);
            err = put_str(w, ft, name, id);
        } else if (!strcmp(name, "total_order")) {
            err = put_int(w, ft, name, (int64_t)tx->total_order);
        } else if (!strcmp(name, "data_collection_order")) {
            err = put_int(w, ft, name, (int64_t)tx->data_collection_order);
        } else {
            err = mismatch(w, "transaction block", name);
        }
    }
    return err;
}

static dp_err_t put_image(wr_t *w, const dp_avro_type_t *t, const char *name, const pgo_tuple_t *row) {
    if (!row) return dp_avro_put_null(t, w->out, name, w->errstr, w->n);
    dp_avro_put_present(t, w->out);
    return put_row(w, t, row, 0);
}

static dp_err_t finish(wr_t *w, dp_err_t err, const char *what) {
    if (!err && w->out->overflow) err = DP_ERR_NOMEM;
    if (err == DP_ERR_NOMEM)
        return dp_seterr(w->errstr, w->n, err, "avro: %s of table \"%s.%s\" larger than its bound "
                         "(%zu bytes)", what, w->ev->table->schema, w->ev->table->table,
                         w->out->max);
    return err;
}

dp_err_t dbz_avro_key(const dp_avro_schema_t *s, const dbz_event_t *ev, dp_avro_tok_t *k,
                      dp_buf_t *out, char *errstr, size_t errstr_size) {
    wr_t w = {ev, NULL, k, out, errstr, errstr_size};
    const dp_avro_type_t *t = dp_avro_schema_root(s);
    const pgo_tuple_t *row = dbz_event_key_row(ev);
    if (!dp_avro_is_record(t) || !row) return mismatch(&w, "key", "(top)");
    dp_avro_put_present(t, out);
    return finish(&w, put_row(&w, t, row, 1), "key");
}

dp_err_t dbz_avro_value(const dp_avro_schema_t *s, const dbz_event_t *ev,
                        const dbz_options_t *opt, dp_avro_tok_t *k, dp_buf_t *out, char *errstr,
                        size_t errstr_size) {
    wr_t w = {ev, opt, k, out, errstr, errstr_size};
    const dp_avro_type_t *t = dp_avro_schema_root(s);
    if (!dp_avro_is_record(t)) return mismatch(&w, "envelope", "(top)");
    dp_avro_put_present(t, out);
    dp_err_t err = DP_OK;
    char op[2] = {ev->op, 0};
    for (uint32_t f = 0; f < dp_avro_nfields(t) && !err; f++) {
        const char *name = dp_avro_field_name(t, f);
        const dp_avro_type_t *ft = dp_avro_field_type(t, f);
        if (!strcmp(name, "before")) err = put_image(&w, ft, name, ev->before);
        else if (!strcmp(name, "after")) err = put_image(&w, ft, name, ev->after);
        else if (!strcmp(name, "source")) err = put_source(&w, ft);
        else if (!strcmp(name, "transaction")) err = put_txblock(&w, ft);
        else if (!strcmp(name, "op")) err = put_str(&w, ft, name, op);
        else if (!strcmp(name, "ts_ms")) err = put_int(&w, ft, name, ev->now_us / 1000);
        else if (!strcmp(name, "ts_us")) err = put_int(&w, ft, name, ev->now_us);
        else if (!strcmp(name, "ts_ns"))
            err = put_int(&w, ft, name, (int64_t)((uint64_t)ev->now_us * 1000));
        else err = mismatch(&w, "envelope", name);
    }
    return finish(&w, err, "value");
}
