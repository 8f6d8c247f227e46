/* pipeline.c - the stages of a change event, from typed event to record bytes. */
#include "event/pipeline.h"

#include <string.h>

#include "event/avro_event.h"

void dbz_plan_init(dbz_plan_t *p) { memset(p, 0, sizeof *p); }

void dbz_plan_fini(dbz_plan_t *p) {
    dbz_unwrap_plan_fini(&p->unwrap);
    memset(p, 0, sizeof *p);
}

void dbz_pipeline_init(dbz_pipeline_t *p, const dbz_options_t *opt, dbz_unwrap_t *unwrap,
                       dp_avro_conv_t *key_avro, dp_avro_conv_t *value_avro, size_t max_bytes) {
    memset(p, 0, sizeof *p);
    p->opt = opt;
    p->unwrap = unwrap;
    p->key_avro = key_avro;
    p->value_avro = value_avro;
    dp_buf_init(&p->key, max_bytes);
    dp_buf_init(&p->value, max_bytes);
    dp_buf_init(&p->spare, max_bytes);
    dp_avro_tok_init(&p->tok, max_bytes);
}

void dbz_pipeline_fini(dbz_pipeline_t *p) {
    dbz_plan_fini(&p->heartbeat);
    dbz_plan_fini(&p->txmeta);
    dp_buf_fini(&p->key);
    dp_buf_fini(&p->value);
    dp_buf_fini(&p->spare);
    dp_avro_tok_fini(&p->tok);
}

static void swap(dp_buf_t *a, dp_buf_t *b) {
    dp_buf_t t = *a;
    *a = *b;
    *b = t;
}

/* side: the compiled schema and id of one side of the table, from the
 * plan while the converter's cache still holds it */
static dp_err_t side_text(dp_avro_conv_t *cv, dbz_plan_side_t *ps, const char *topic,
                          const char *connect_schema, size_t len, char *errstr, size_t n) {
    if (ps->schema && ps->generation == dp_avro_conv_generation(cv)) return DP_OK;
    ps->schema = NULL;
    dp_err_t err =
        dp_avro_conv_schema(cv, topic, connect_schema, len, &ps->schema, &ps->id, errstr, n);
    if (err) {
        ps->schema = NULL;
        return err;
    }
    ps->generation = dp_avro_conv_generation(cv);
    return DP_OK;
}

static dp_err_t side(dp_avro_conv_t *cv, dbz_plan_side_t *ps, const char *topic,
                     const dp_buf_t *connect_schema, char *errstr, size_t n) {
    return side_text(cv, ps, topic, (const char *)connect_schema->data, connect_schema->len, errstr,
                     n);
}

static dp_err_t too_large(const dbz_event_t *ev, char *errstr, size_t n) {
    return dp_seterr(errstr, n, DP_ERR_NOMEM,
                     "event of table \"%s.%s\" at LSN %X/%X is larger "
                     "than datapipe.max.event.bytes",
                     ev->table->schema, ev->table->table, (unsigned)(ev->source.lsn >> 32),
                     (unsigned)ev->source.lsn);
}

static dp_err_t put_key(dbz_pipeline_t *p, dbz_plan_t *plan, const char *topic,
                        const dbz_event_t *ev, int *has_key, char *errstr, size_t n) {
    const dbz_table_t *t = ev->table;
    dp_buf_reset(&p->key);
    *has_key = t->nkeys > 0 && dbz_event_key_row(ev);
    if (!*has_key) return DP_OK;
    if (!p->key_avro) {
        int hk;
        return dbz_encode_key(ev, p->opt, &p->key, &hk) ? too_large(ev, errstr, n) : DP_OK;
    }
    dp_err_t err = side(p->key_avro, &plan->key, topic, &t->key_schema, errstr, n);
    if (!err) err = dp_avro_put_header(&p->key, plan->key.id);
    if (!err) err = dbz_avro_key(plan->key.schema, ev, &p->tok, &p->key, errstr, n);
    return err == DP_ERR_NOMEM ? too_large(ev, errstr, n) : err;
}

/* transform: ExtractNewRecordState on the value JSON (value NULL: the
 * tombstone); *res says what became of the record */
static dp_err_t transform(dbz_pipeline_t *p, int tombstone, dbz_unwrap_result_t *res, char *errstr,
                          size_t n) {
    *res = tombstone ? DBZ_UNWRAP_NULL : DBZ_UNWRAP_VALUE;
    if (!p->unwrap) return DP_OK;
    dp_err_t err = dbz_unwrap_apply(p->unwrap, tombstone ? NULL : p->value.data,
                                    tombstone ? 0 : p->value.len, &p->spare, res, errstr, n);
    if (!err && *res == DBZ_UNWRAP_VALUE) swap(&p->value, &p->spare);
    return err;
}

static void record(dbz_pipeline_t *p, int has_key, dbz_unwrap_result_t res, dbz_record_t *rec) {
    rec->drop = res == DBZ_UNWRAP_DROP;
    rec->key = has_key ? p->key.data : NULL;
    rec->klen = has_key ? p->key.len : 0;
    rec->value = res == DBZ_UNWRAP_VALUE ? p->value.data : NULL;
    rec->vlen = res == DBZ_UNWRAP_VALUE ? p->value.len : 0;
}

/* typed_transform: ExtractNewRecordState on the typed event, the new
 * value written by the value side's writer */
static dp_err_t typed_transform(dbz_pipeline_t *p, dbz_plan_t *plan, const char *topic,
                                const dbz_event_t *ev, dbz_unwrap_result_t *res, char *errstr,
                                size_t n) {
    dbz_unwrapped_t *uw = &p->uw;
    dp_err_t err = dbz_unwrap_event(p->unwrap, &plan->unwrap, ev, p->opt, uw);
    if (err) return dp_seterr(errstr, n, err, "headers of an event are larger than the bound");
    *res = uw->res;
    if (uw->res != DBZ_UNWRAP_VALUE) return DP_OK;
    if (!p->value_avro) {
        if (dbz_unwrap_write_json(p->unwrap, &plan->unwrap, ev, uw, &p->value))
            return too_large(ev, errstr, n);
        return DP_OK;
    }
    int k = !uw->row ? 2 : uw->side;
    const dp_buf_t *schema = k == 2 ? &plan->unwrap.null_schema : &plan->unwrap.schema[k];
    if ((err = side(p->value_avro, &plan->unwrapped[k], topic, schema, errstr, n)) ||
        (err = dp_avro_put_header(&p->value, plan->unwrapped[k].id)) ||
        (err =
             dbz_avro_unwrapped(plan->unwrapped[k].schema, ev, uw, &p->tok, &p->value, errstr, n)))
        return err == DP_ERR_NOMEM ? too_large(ev, errstr, n) : err;
    return DP_OK;
}

dp_err_t dbz_pipeline_prepare(dbz_pipeline_t *p, dbz_plan_t *plan, const dbz_table_t *t,
                              char *errstr, size_t n) {
    if (!p->unwrap || plan->unwrap.state != DBZ_UNWRAP_PLAN_NONE) return DP_OK;
    return dbz_unwrap_plan_build(p->unwrap, t, p->opt, &plan->unwrap, errstr, n);
}

dp_err_t dbz_pipeline_event(dbz_pipeline_t *p, dbz_plan_t *plan, const char *topic,
                            const dbz_event_t *ev, dbz_record_t *rec, char *errstr, size_t n) {
    int has_key;
    dp_err_t err = put_key(p, plan, topic, ev, &has_key, errstr, n);
    if (err) return err;
    dbz_unwrap_result_t res = DBZ_UNWRAP_VALUE;
    dp_buf_reset(&p->value);
    if ((err = dbz_pipeline_prepare(p, plan, ev->table, errstr, n))) return err;
    if (p->unwrap && plan->unwrap.state == DBZ_UNWRAP_PLAN_TYPED) {
        if ((err = typed_transform(p, plan, topic, ev, &res, errstr, n))) return err;
    } else if (p->value_avro && !p->unwrap) {
        /* the Avro writer, straight from the event */
        if ((err = side(p->value_avro, &plan->value, topic, &ev->table->value_schema, errstr, n)) ||
            (err = dp_avro_put_header(&p->value, plan->value.id)) ||
            (err = dbz_avro_value(plan->value.schema, ev, p->opt, &p->tok, &p->value, errstr, n)))
            return err == DP_ERR_NOMEM ? too_large(ev, errstr, n) : err;
    } else {
        if (dbz_encode_value(ev, p->opt, &p->value)) return too_large(ev, errstr, n);
        if ((err = transform(p, 0, &res, errstr, n))) return err;
        /* a value the transform rewrote: its JSON transcoded */
        if (res == DBZ_UNWRAP_VALUE && p->value_avro &&
            (err = dp_avro_conv_run(p->value_avro, topic, p->value.data, p->value.len, &p->spare,
                                    errstr, n)))
            return err;
        if (res == DBZ_UNWRAP_VALUE && p->value_avro) swap(&p->value, &p->spare);
    }
    record(p, has_key, res, rec);
    return DP_OK;
}

dp_err_t dbz_pipeline_tombstone(dbz_pipeline_t *p, dbz_record_t *rec, char *errstr, size_t n) {
    int has_key = rec->key != NULL;
    dbz_unwrap_result_t res;
    dp_err_t err = transform(p, 1, &res, errstr, n);
    if (err) return err;
    record(p, has_key, res, rec);
    return DP_OK;
}

/* avro_begin: out starts the Avro form of a record that is not a change
 * event, under the constant Connect schema connect_schema (compiled once
 * into ps): the wire header, then its fields under *root */
static dp_err_t avro_begin(dp_avro_conv_t *cv, dbz_plan_side_t *ps, const char *topic,
                           const char *connect_schema, dp_buf_t *out, const dp_avro_type_t **root,
                           char *errstr, size_t n) {
    dp_err_t err = side_text(cv, ps, topic, connect_schema, strlen(connect_schema), errstr, n);
    if (err) return err;
    dp_buf_reset(out);
    *root = dp_avro_schema_root(ps->schema);
    return dp_avro_put_header(out, ps->id);
}

/* heartbeat_side: one side of the heartbeat record as Avro: a record of
 * one field, a string or a long */
static dp_err_t heartbeat_side(dp_avro_conv_t *cv, dbz_plan_side_t *ps, const char *topic,
                               const char *connect_schema, const char *s, int64_t i, dp_buf_t *out,
                               char *errstr, size_t n) {
    const dp_avro_type_t *t;
    dp_err_t err = avro_begin(cv, ps, topic, connect_schema, out, &t, errstr, n);
    if (err) return err;
    const dp_avro_type_t *ft = dp_avro_field_type(t, 0);
    const char *name = dp_avro_field_name(t, 0);
    err = s ? dp_avro_put_string(ft, s, strlen(s), out, name, errstr, n)
            : dp_avro_put_integer(ft, i, out, name, errstr, n);
    return err ? err : out->overflow ? DP_ERR_NOMEM : DP_OK;
}

dp_err_t dbz_pipeline_heartbeat(dbz_pipeline_t *p, const char *topic, int64_t ts_ms,
                                dbz_record_t *rec, char *errstr, size_t n) {
    dp_err_t err = DP_OK;
    if (dbz_encode_heartbeat(p->opt, ts_ms, &p->key, &p->value))
        return dp_seterr(errstr, n, DP_ERR_NOMEM, "heartbeat larger than datapipe.max.event.bytes");
    if (p->key_avro)
        err = heartbeat_side(p->key_avro, &p->heartbeat.key, topic, DBZ_HEARTBEAT_KEY_SCHEMA,
                             p->opt->topic_prefix, 0, &p->key, errstr, n);
    if (!err && p->value_avro)
        err = heartbeat_side(p->value_avro, &p->heartbeat.value, topic, DBZ_HEARTBEAT_VALUE_SCHEMA,
                             NULL, ts_ms, &p->value, errstr, n);
    if (err) return err;
    record(p, 1, DBZ_UNWRAP_VALUE, rec);
    return DP_OK;
}

dp_err_t dbz_pipeline_txmeta(dbz_pipeline_t *p, dbz_txmeta_t *m, int end, uint64_t lsn,
                             int64_t ts_us, const char *topic, dbz_record_t *rec, char *errstr,
                             size_t n) {
    const dp_avro_type_t *t;
    dp_err_t err;
    dp_buf_reset(&p->key);
    dp_buf_reset(&p->value);
    if (!p->key_avro)
        err = dbz_txmeta_json_key(m, p->opt, lsn, &p->key);
    else if (!(err = avro_begin(p->key_avro, &p->txmeta.key, topic, DBZ_TXMETA_KEY_SCHEMA, &p->key,
                                &t, errstr, n)))
        err = dbz_txmeta_avro_key(m, t, lsn, &p->key, errstr, n);
    if (!err && !p->value_avro)
        err = dbz_txmeta_json_value(m, p->opt, end, lsn, ts_us, &p->value);
    else if (!err &&
             !(err = avro_begin(p->value_avro, &p->txmeta.value, topic, DBZ_TXMETA_VALUE_SCHEMA,
                                &p->value, &t, errstr, n)))
        err = dbz_txmeta_avro_value(m, t, end, lsn, ts_us, &p->value, errstr, n);
    if (err == DP_ERR_NOMEM || p->key.overflow || p->value.overflow)
        return dp_seterr(errstr, n, DP_ERR_NOMEM,
                         "%s record of transaction %u is larger than datapipe.max.event.bytes",
                         end ? "END" : "BEGIN", m->xid);
    if (err) return err;
    record(p, 1, DBZ_UNWRAP_VALUE, rec);
    return DP_OK;
}
