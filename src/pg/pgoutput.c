/* pgoutput.c - bounds-checked, zero-copy pgoutput message parsing. */
#include "pg/pgoutput.h"

#include <string.h>

typedef struct rd {
    const unsigned char *p, *end;
    int bad;
} rd_t;

static uint8_t r8(rd_t *r) {
    if (r->end - r->p < 1) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}
static uint16_t r16(rd_t *r) {
    if (r->end - r->p < 2) {
        r->bad = 1;
        return 0;
    }
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}
static uint32_t r32(rd_t *r) {
    if (r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = pgo_be32(r->p);
    r->p += 4;
    return v;
}
static uint64_t r64(rd_t *r) {
    if (r->end - r->p < 8) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = pgo_be64(r->p);
    r->p += 8;
    return v;
}
/* rstr: a NUL-terminated string */
static pgo_str_t rstr(rd_t *r) {
    pgo_str_t s = {"", 0};
    const unsigned char *z = r->bad ? NULL : memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!z) {
        r->bad = 1;
        return s;
    }
    s.p = (const char *)r->p;
    s.len = (uint32_t)(z - r->p);
    r->p = z + 1;
    return s;
}

static dp_err_t bad(char *errstr, size_t n, const char *what) {
    return dp_seterr(errstr, n, DP_ERR_PROTO, "pgoutput: malformed %s message", what);
}

/* read_tuple: TupleData into vals (at most PGO_MAX_COLUMNS columns). */
static int read_tuple(rd_t *r, pgo_value_t *vals, pgo_tuple_t *t) {
    uint16_t n = r16(r);
    if (r->bad || n > PGO_MAX_COLUMNS) return -1;
    for (uint16_t i = 0; i < n; i++) {
        char k = (char)r8(r);
        vals[i].kind = k;
        vals[i].data = NULL;
        vals[i].len = 0;
        if (k == 't' || k == 'b') {
            uint32_t l = r32(r);
            if (r->bad || l > (uint32_t)(r->end - r->p)) return -1;
            vals[i].data = (const char *)r->p;
            vals[i].len = l;
            r->p += l;
        } else if (k != 'n' && k != 'u') {
            return -1;
        }
        if (r->bad) return -1;
    }
    t->ncols = n;
    t->cols = vals;
    return 0;
}

dp_err_t pgo_decode(pgo_decoder_t *d, const unsigned char *buf, size_t len, pgo_msg_t *m,
                    char *errstr, size_t errstr_size) {
    rd_t r = {buf, buf + len, 0};
    memset(m, 0, sizeof *m);
    if (len < 1) return bad(errstr, errstr_size, "empty");
    m->kind = (pgo_kind_t)r8(&r);
    switch (m->kind) {
    case PGO_BEGIN:
        m->u.begin.final_lsn = r64(&r);
        m->u.begin.commit_ts = (int64_t)r64(&r);
        m->u.begin.xid = r32(&r);
        if (r.bad) return bad(errstr, errstr_size, "begin");
        break;
    case PGO_COMMIT:
        m->u.commit.flags = r8(&r);
        m->u.commit.commit_lsn = r64(&r);
        m->u.commit.end_lsn = r64(&r);
        m->u.commit.commit_ts = (int64_t)r64(&r);
        if (r.bad) return bad(errstr, errstr_size, "commit");
        break;
    case PGO_ORIGIN:
        m->u.origin.lsn = r64(&r);
        m->u.origin.name = rstr(&r);
        if (r.bad) return bad(errstr, errstr_size, "origin");
        break;
    case PGO_RELATION: {
        m->u.relation.relid = r32(&r);
        m->u.relation.nspname = rstr(&r);
        m->u.relation.relname = rstr(&r);
        m->u.relation.replident = (char)r8(&r);
        uint16_t n = r16(&r);
        if (r.bad || n > PGO_MAX_COLUMNS) return bad(errstr, errstr_size, "relation");
        for (uint16_t i = 0; i < n; i++) {
            d->relcols[i].flags = r8(&r);
            d->relcols[i].name = rstr(&r);
            d->relcols[i].type_oid = r32(&r);
            d->relcols[i].typmod = (int32_t)r32(&r);
        }
        if (r.bad) return bad(errstr, errstr_size, "relation");
        m->u.relation.ncols = n;
        m->u.relation.cols = d->relcols;
        break;
    }
    case PGO_TYPE:
        m->u.type.oid = r32(&r);
        m->u.type.nspname = rstr(&r);
        m->u.type.typname = rstr(&r);
        if (r.bad) return bad(errstr, errstr_size, "type");
        break;
    case PGO_INSERT:
        m->u.change.relid = r32(&r);
        if (r8(&r) != 'N' || read_tuple(&r, d->vals[1], &m->u.change.new_tuple))
            return bad(errstr, errstr_size, "insert");
        break;
    case PGO_UPDATE: {
        m->u.change.relid = r32(&r);
        uint8_t k = r8(&r);
        if (k == 'K' || k == 'O') {
            m->u.change.old_kind = (char)k;
            if (read_tuple(&r, d->vals[0], &m->u.change.old_tuple))
                return bad(errstr, errstr_size, "update");
            k = r8(&r);
        }
        if (k != 'N' || read_tuple(&r, d->vals[1], &m->u.change.new_tuple))
            return bad(errstr, errstr_size, "update");
        break;
    }
    case PGO_DELETE: {
        m->u.change.relid = r32(&r);
        uint8_t k = r8(&r);
        if ((k != 'K' && k != 'O') || read_tuple(&r, d->vals[0], &m->u.change.old_tuple))
            return bad(errstr, errstr_size, "delete");
        m->u.change.old_kind = (char)k;
        break;
    }
    case PGO_TRUNCATE:
        m->u.truncate.nrels = r32(&r);
        m->u.truncate.options = r8(&r);
        if (r.bad || m->u.truncate.nrels > (size_t)(r.end - r.p) / 4)
            return bad(errstr, errstr_size, "truncate");
        m->u.truncate.relids = r.p;
        r.p += (size_t)m->u.truncate.nrels * 4;
        break;
    case PGO_MESSAGE:
        m->u.message.flags = r8(&r);
        m->u.message.lsn = r64(&r);
        m->u.message.prefix = rstr(&r);
        m->u.message.len = r32(&r);
        if (r.bad || m->u.message.len > (size_t)(r.end - r.p))
            return bad(errstr, errstr_size, "message");
        m->u.message.content = (const char *)r.p;
        r.p += m->u.message.len;
        break;
    default:
        return dp_seterr(errstr, errstr_size, DP_ERR_PROTO, "pgoutput: unknown message type 0x%02x",
                         (unsigned)buf[0]);
    }
    if (r.p != r.end)
        return dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                         "pgoutput: %zu trailing bytes after '%c' message", (size_t)(r.end - r.p),
                         (char)m->kind);
    return DP_OK;
}

uint32_t pgo_truncate_relid(const pgo_msg_t *m, uint32_t i) {
    return pgo_be32(m->u.truncate.relids + (size_t)i * 4);
}
