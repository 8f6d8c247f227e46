/* avro_event.c - the AvroConverter writer of typed change events. */
#include "event/avro_event.h"

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
    return dp_seterr(w->errstr, w->n, DP_ERR_INVALID,
                     "avro: %s of table \"%s.%s\": field \"%s\" "
                     "does not match the table's columns",
                     what, w->ev->table->schema, w->ev->table->table, field);
}

/* put_columns: the columns of row (the key columns only for a key) as the
 * first fields of the record t, in column order; *f is then the next field */
static dp_err_t put_columns(wr_t *w, const dp_avro_type_t *t, const pgo_tuple_t *row, int keys_only,
                            uint32_t *f) {
    static const pgo_value_t null_value = {PGO_VAL_NULL, NULL, 0};
    const dbz_table_t *tb = w->ev->table;
    uint32_t nf = dp_avro_nfields(t);
    dp_err_t err;
    *f = 0;
    for (uint16_t i = 0; i < tb->ncols; i++) {
        const dbz_column_t *c = &tb->cols[i];
        if ((keys_only && !c->in_key) || c->omit) continue;
        if (*f >= nf || strcmp(dp_avro_field_name(t, *f), c->name) != 0)
            return mismatch(w, keys_only ? "key" : "row", c->name);
        dp_buf_reset(&w->k->text);
        dbz_put_value(&w->k->text, c, i < row->ncols ? &row->cols[i] : &null_value);
        if ((err = dp_avro_put_token(dp_avro_field_type(t, *f), (const char *)w->k->text.data,
                                     w->k->text.len, w->k, w->out, c->name, w->errstr, w->n)))
            return err;
        (*f)++;
    }
    return DP_OK;
}

/* put_row: the row as the record t, which has exactly its columns */
static dp_err_t put_row(wr_t *w, const dp_avro_type_t *t, const pgo_tuple_t *row, int keys_only) {
    uint32_t f;
    dp_err_t err = put_columns(w, t, row, keys_only, &f);
    if (err || f == dp_avro_nfields(t)) return err;
    return mismatch(w, keys_only ? "key" : "row", dp_avro_field_name(t, f));
}

/* put_val: a typed field under t */
static dp_err_t put_val(wr_t *w, const dp_avro_type_t *t, const char *name, const dbz_val_t *v) {
    if (v->kind == DBZ_VAL_STR)
        return dp_avro_put_string(t, v->s, v->n, w->out, name, w->errstr, w->n);
    if (v->kind == DBZ_VAL_INT) return dp_avro_put_integer(t, v->i, w->out, name, w->errstr, w->n);
    if (v->kind == DBZ_VAL_COL) { /* a column, as the row writer puts it */
        dp_buf_reset(&w->k->text);
        dbz_put_value(&w->k->text, v->col, v->cv);
        return dp_avro_put_token(t, (const char *)w->k->text.data, w->k->text.len, w->k, w->out,
                                 name, w->errstr, w->n);
    }
    return dp_avro_put_null(t, w->out, name, w->errstr, w->n);
}

/* put_field: the scalar field name of strct (NULL: the envelope) */
static dp_err_t put_field(wr_t *w, const dp_avro_type_t *t, const char *strct, const char *name) {
    dbz_val_t v;
    if (dbz_event_field(w->ev, w->opt, strct, name, &v))
        return mismatch(w, strct ? strct : "envelope", name);
    return put_val(w, t, name, &v);
}

/* put_block: the source or transaction block, field by field as the
 * schema orders them (a null transaction block when there is none) */
static dp_err_t put_block(wr_t *w, const dp_avro_type_t *t, const char *strct) {
    if (!strcmp(strct, "transaction") && !w->ev->source.txn)
        return dp_avro_put_null(t, w->out, strct, w->errstr, w->n);
    dp_err_t err = dp_avro_put_present(t, w->out);
    for (uint32_t f = 0; f < dp_avro_nfields(t) && !err; f++)
        err = put_field(w, dp_avro_field_type(t, f), strct, dp_avro_field_name(t, f));
    return err;
}

static dp_err_t put_image(wr_t *w, const dp_avro_type_t *t, const char *name,
                          const pgo_tuple_t *row) {
    if (!row) return dp_avro_put_null(t, w->out, name, w->errstr, w->n);
    dp_avro_put_present(t, w->out);
    return put_row(w, t, row, 0);
}

static dp_err_t finish(wr_t *w, dp_err_t err, const char *what) {
    if (!err && w->out->overflow) err = DP_ERR_NOMEM;
    if (err == DP_ERR_NOMEM)
        return dp_seterr(w->errstr, w->n, err,
                         "avro: %s of table \"%s.%s\" larger than its bound "
                         "(%zu bytes)",
                         what, w->ev->table->schema, w->ev->table->table, w->out->max);
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

dp_err_t dbz_avro_value(const dp_avro_schema_t *s, const dbz_event_t *ev, const dbz_options_t *opt,
                        dp_avro_tok_t *k, dp_buf_t *out, char *errstr, size_t errstr_size) {
    wr_t w = {ev, opt, k, out, errstr, errstr_size};
    const dp_avro_type_t *t = dp_avro_schema_root(s);
    if (!dp_avro_is_record(t)) return mismatch(&w, "envelope", "(top)");
    dp_avro_put_present(t, out);
    dp_err_t err = DP_OK;
    for (uint32_t f = 0; f < dp_avro_nfields(t) && !err; f++) {
        const char *name = dp_avro_field_name(t, f);
        const dp_avro_type_t *ft = dp_avro_field_type(t, f);
        if (!strcmp(name, "before"))
            err = put_image(&w, ft, name, ev->before);
        else if (!strcmp(name, "after"))
            err = put_image(&w, ft, name, ev->after);
        else if (!strcmp(name, "source") || !strcmp(name, "transaction"))
            err = put_block(&w, ft, name);
        else
            err = put_field(&w, ft, NULL, name);
    }
    return finish(&w, err, "value");
}

dp_err_t dbz_avro_unwrapped(const dp_avro_schema_t *s, const dbz_event_t *ev,
                            const dbz_unwrapped_t *uw, dp_avro_tok_t *k, dp_buf_t *out,
                            char *errstr, size_t errstr_size) {
    wr_t w = {ev, NULL, k, out, errstr, errstr_size};
    const dp_avro_type_t *t = dp_avro_schema_root(s);
    if (!uw->row)
        return finish(&w, dp_avro_put_null(t, out, "(top)", errstr, errstr_size), "value");
    if (!dp_avro_is_record(t)) return mismatch(&w, "unwrapped value", "(top)");
    dp_avro_put_present(t, out);
    uint32_t f, nf = dp_avro_nfields(t);
    dp_err_t err = put_columns(&w, t, uw->row, 0, &f);
    if (!err && uw->deleted) {
        if (f >= nf || strcmp(dp_avro_field_name(t, f), "__deleted"))
            return mismatch(&w, "unwrapped value", "__deleted");
        err = dp_avro_put_string(dp_avro_field_type(t, f), uw->deleted, strlen(uw->deleted), out,
                                 "__deleted", errstr, errstr_size);
        f++;
    }
    for (size_t i = 0; i < uw->nadded && !err; i++, f++) {
        if (f >= nf || strcmp(dp_avro_field_name(t, f), uw->added_name[i]))
            return mismatch(&w, "unwrapped value", uw->added_name[i]);
        err = put_val(&w, dp_avro_field_type(t, f), uw->added_name[i], &uw->added[i]);
    }
    if (!err && f != nf) err = mismatch(&w, "unwrapped value", dp_avro_field_name(t, f));
    return finish(&w, err, "value");
}
