/* check.c - the pure logic of `datapipe verify`: the archive's key layout,
 * the offsets an object's footer announces, and the plan that puts the
 * object summaries of a topic-partition in offset order and finds what
 * lies between them.
 *
 * Nothing here talks to a server: verify.c feeds it what S3 and Kafka
 * said, and tests/unit/test_verify.c feeds it made-up summaries. Memory
 * is one 32-byte summary per object plus interned strings (topics, time
 * paths), never rows. */
#include "verify/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "common/buf.h"
#include "parquet/footer.h"

const char *const vfy_exts[4] = {".parquet", ".snappy.parquet", ".gz.parquet", ".zstd.parquet"};

/* ---- interned strings ---- */

static uint32_t fnv1a(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

void vfy_strtab_init(vfy_strtab_t *t) { memset(t, 0, sizeof *t); }

void vfy_strtab_fini(vfy_strtab_t *t) {
    for (size_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* slot_of: the slot holding s[0..len), or the empty slot where it goes */
static size_t slot_of(const vfy_strtab_t *t, const char *s, size_t len) {
    size_t mask = t->nslots - 1, i = fnv1a(s, len) & mask;
    while (t->slots[i]) {
        const char *c = t->s[t->slots[i] - 1];
        if (strncmp(c, s, len) == 0 && c[len] == 0) break;
        i = (i + 1) & mask;
    }
    return i;
}

/* grow: double the slots (kept at most half full) and place every string again */
static void grow(vfy_strtab_t *t) {
    size_t ns = t->nslots ? t->nslots * 2 : 64;
    free(t->slots);
    t->slots = dp_xcalloc(ns, sizeof *t->slots);
    t->nslots = ns;
    for (size_t k = 0; k < t->n; k++)
        t->slots[slot_of(t, t->s[k], strlen(t->s[k]))] = (uint32_t)k + 1;
}

uint32_t vfy_strtab_add(vfy_strtab_t *t, const char *s, size_t len) {
    if ((t->n + 1) * 2 > t->nslots) grow(t);
    size_t i = slot_of(t, s, len);
    if (t->slots[i]) return t->slots[i] - 1;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->s = dp_xrealloc(t->s, t->cap * sizeof *t->s);
    }
    char *c = dp_xmalloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    t->s[t->n] = c;
    t->slots[i] = (uint32_t)++t->n;
    return (uint32_t)(t->n - 1);
}

uint32_t vfy_strtab_find(const vfy_strtab_t *t, const char *s) {
    if (!t->nslots) return UINT32_MAX;
    size_t i = slot_of(t, s, strlen(s));
    return t->slots[i] ? t->slots[i] - 1 : UINT32_MAX;
}

/* ---- object keys ---- */

dp_err_t vfy_path_shape(const char *path_format, long long duration_ms, char *out, size_t outsz,
                        char *errstr, size_t errstr_size) {
    if (arc_format_path(path_format, 0, duration_ms, "UTC", out, outsz))
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "invalid \"path.format\" \"%s\"",
                         path_format);
    return DP_OK;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* digits: s[0..len) as a non-negative decimal of at most 18 significant
 * digits (leading zeros aside), or -1 */
static int64_t digits(const char *s, size_t len) {
    if (len == 0) return -1;
    size_t sig = 0;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) return -1;
        if (v || s[i] != '0') sig++;
        if (sig > 18) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* topic_char: Kafka's legal topic characters */
static int topic_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
        c == '_' || c == '-';
}

dp_err_t vfy_parse_key(const char *key, const char *dir, const char *shape, int pad, vfy_key_t *out,
                       char *errstr, size_t n) {
    size_t dl = strlen(dir);
    if (strncmp(key, dir, dl) != 0 || key[dl] != '/')
        return dp_seterr(errstr, n, DP_ERR_INVALID, "not under \"%s/\"", dir);
    const char *rest = key + dl + 1, *slash = strrchr(rest, '/');
    if (!slash) return dp_seterr(errstr, n, DP_ERR_INVALID, "no time path in the name");
    size_t pl = (size_t)(slash - rest), sl = strlen(shape);
    int shaped = pl == sl;
    for (size_t i = 0; shaped && i < sl; i++)
        shaped = is_digit(shape[i]) ? is_digit(rest[i]) : rest[i] == shape[i];
    if (!shaped)
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "time path \"%.*s\" does not have the shape of "
                         "path.format (\"%s\")",
                         (int)pl, rest, shape);
    const char *file = slash + 1;
    size_t fl = strlen(file);
    static const int order[] = {1, 2, 3, 0}; /* ".parquet" last: it ends the others too */
    int ext = -1;
    for (int k = 0; k < 4 && ext < 0; k++) {
        size_t el = strlen(vfy_exts[order[k]]);
        if (fl > el && strcmp(file + fl - el, vfy_exts[order[k]]) == 0) ext = order[k];
    }
    if (ext < 0) return dp_seterr(errstr, n, DP_ERR_INVALID, "not a .parquet name");
    size_t stem = fl - strlen(vfy_exts[ext]);
    const char *p2 = NULL, *p1 = NULL; /* the last and the one before last '+' of the stem */
    for (size_t i = stem; i-- > 0;) {
        if (file[i] != '+') continue;
        if (!p2)
            p2 = file + i;
        else {
            p1 = file + i;
            break;
        }
    }
    if (!p1)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "no <topic>+<partition>+<offset> in the name");
    int64_t off = digits(p2 + 1, (size_t)(file + stem - p2 - 1));
    int64_t part = digits(p1 + 1, (size_t)(p2 - p1 - 1));
    char want[32];
    snprintf(want, sizeof want, "%0*lld", pad, (long long)off);
    if (off < 0 || strlen(want) != (size_t)(file + stem - p2 - 1) ||
        strncmp(want, p2 + 1, strlen(want)) != 0)
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "offset \"%.*s\" is not a %d-digit zero-padded "
                         "number",
                         (int)(file + stem - p2 - 1), p2 + 1, pad);
    if (part < 0 || part > INT32_MAX || (p2 - p1 > 2 && p1[1] == '0'))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "partition \"%.*s\" is not a number",
                         (int)(p2 - p1 - 1), p1 + 1);
    size_t tl = (size_t)(p1 - file);
    int topic_ok = tl > 0 && tl <= 249;
    for (size_t i = 0; topic_ok && i < tl; i++) topic_ok = topic_char(file[i]);
    if (!topic_ok)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "\"%.*s\" is not a topic name", (int)tl, file);
    out->path = rest;
    out->path_len = pl;
    out->topic = file;
    out->topic_len = tl;
    out->partition = (int32_t)part;
    out->offset = off;
    out->ext = ext;
    return DP_OK;
}

/* ---- footers ---- */

/* footer_num: footer entry key as a number in [0, max] */
static dp_err_t footer_num(const uint8_t *tail, size_t len, const char *key, int64_t max,
                           int64_t *v, size_t *need, char *errstr, size_t n) {
    char buf[32];
    dp_err_t err = pqt_footer_kv(tail, len, key, buf, sizeof buf, need, errstr, n);
    if (err) return err;
    *v = digits(buf, strlen(buf));
    if (*v < 0 || *v > max)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "footer entry \"%s\" is \"%s\", not an offset",
                         key, buf);
    return DP_OK;
}

dp_err_t vfy_read_footer(const uint8_t *tail, size_t len, vfy_footer_t *out, size_t *need,
                         char *errstr, size_t n) {
    int64_t part = 0;
    dp_err_t err = pqt_footer_kv(tail, len, "datapipe.kafka.topic", out->topic, sizeof out->topic,
                                 need, errstr, n);
    if (!err)
        err = footer_num(tail, len, "datapipe.kafka.partition", INT32_MAX, &part, need, errstr, n);
    if (!err)
        err = footer_num(tail, len, "datapipe.kafka.start.offset", INT64_MAX, &out->start, need,
                         errstr, n);
    if (!err)
        err = footer_num(tail, len, "datapipe.kafka.end.offset", INT64_MAX, &out->end, need, errstr,
                         n);
    if (err) return err;
    out->partition = (int32_t)part;
    if (!*out->topic) return dp_seterr(errstr, n, DP_ERR_INVALID, "footer names no topic");
    if (out->start > out->end)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "footer offsets %lld..%lld run backwards",
                         (long long)out->start, (long long)out->end);
    return DP_OK;
}

/* ---- the plan ---- */

static int cmp_obj(const void *a, const void *b) {
    const vfy_object_t *x = a, *y = b;
    if (x->topic != y->topic) return x->topic < y->topic ? -1 : 1;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_facts(const void *a, const void *b) {
    const vfy_facts_t *x = a, *y = b;
    if (x->topic != y->topic) return x->topic < y->topic ? -1 : 1;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return 0;
}

/* push_range: append one range of part p */
static void push_range(vfy_plan_t *pl, size_t *cap, const vfy_part_t *p, int64_t from, int64_t to,
                       vfy_gap_kind_t kind, vfy_unverified_t unv, size_t before, size_t after) {
    if (pl->nranges == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        pl->ranges = dp_xrealloc(pl->ranges, *cap * sizeof *pl->ranges);
    }
    vfy_range_t *r = &pl->ranges[pl->nranges++];
    memset(r, 0, sizeof *r);
    r->from = from, r->to = to;
    r->topic = p->topic, r->partition = p->partition;
    r->kind = kind, r->unverified = unv;
    r->before = before, r->after = after;
    r->first_data = r->last_data = -1;
}

/* add_range: offsets from..to of p lie in no object: split them where
 * Kafka can answer (from the log start to below the high watermark) and
 * where it cannot */
static void add_range(vfy_plan_t *pl, size_t *cap, const vfy_part_t *p, const vfy_facts_t *f,
                      int64_t from, int64_t to, vfy_gap_kind_t kind, size_t before, size_t after) {
    if (from > to) return;
    if (!f) {
        push_range(pl, cap, p, from, to, kind, VFY_UNV_NO_PARTITION, before, after);
        return;
    }
    if (from < f->log_start)
        push_range(pl, cap, p, from, to < f->log_start - 1 ? to : f->log_start - 1, kind,
                   VFY_UNV_BELOW_START, before, after);
    int64_t lo = from > f->log_start ? from : f->log_start,
            hi = to < f->high - 1 ? to : f->high - 1;
    if (lo <= hi) push_range(pl, cap, p, lo, hi, kind, VFY_UNV_NONE, before, after);
    if (to >= f->high) {
        int64_t a = from > f->high ? from : f->high;
        if (a <= to) push_range(pl, cap, p, a, to, kind, VFY_UNV_ABOVE_HIGH, before, after);
    }
}

/* add_below_committed: as add_range, but the offsets at or above the
 * committed offset are in flight (see vfy_plan_build), not checked */
static void add_below_committed(vfy_plan_t *pl, size_t *cap, const vfy_part_t *p,
                                const vfy_facts_t *f, int64_t from, int64_t to, vfy_gap_kind_t kind,
                                size_t before, size_t after) {
    if (from > to) return;
    if (!f || f->committed < 0 || to < f->committed) {
        add_range(pl, cap, p, f, from, to, kind, before, after);
        return;
    }
    int64_t a = from > f->committed ? from : f->committed;
    add_range(pl, cap, p, f, from, a - 1, kind, before, after);
    push_range(pl, cap, p, a, to, kind, VFY_UNV_IN_FLIGHT, before, after);
}

/* plan_part: the ranges and overlaps of part p, whose objects are
 * objs[p->first_obj .. + p->nobj) in offset order */
static void plan_part(vfy_plan_t *pl, size_t *rcap, size_t *ocap, vfy_part_t *p,
                      const vfy_object_t *objs, const vfy_facts_t *f) {
    p->first_range = pl->nranges;
    size_t holder = VFY_NONE; /* the object reaching furthest so far */
    int64_t max_end = -1;
    if (p->nobj) {
        p->first_offset = objs[p->first_obj].start;
        if (f && p->first_offset > f->log_start)
            add_below_committed(pl, rcap, p, f, f->log_start, p->first_offset - 1,
                                VFY_GAP_BEFORE_FIRST, VFY_NONE, p->first_obj);
    }
    for (size_t i = p->first_obj; i < p->first_obj + p->nobj; i++) {
        const vfy_object_t *o = &objs[i];
        if (holder != VFY_NONE && o->start <= max_end) {
            if (pl->noverlaps == *ocap) {
                *ocap = *ocap ? *ocap * 2 : 16;
                pl->overlaps = dp_xrealloc(pl->overlaps, *ocap * sizeof *pl->overlaps);
            }
            vfy_overlap_t *ov = &pl->overlaps[pl->noverlaps++];
            ov->from = o->start;
            ov->to = o->end < max_end ? o->end : max_end;
            ov->a = holder, ov->b = i;
        } else if (holder != VFY_NONE && o->start > max_end + 1) {
            add_below_committed(pl, rcap, p, f, max_end + 1, o->start - 1, VFY_GAP_BETWEEN, holder,
                                i);
        }
        if (holder == VFY_NONE || o->end > max_end) max_end = o->end, holder = i;
    }
    p->last_offset = max_end;
    if (f && f->committed >= 0) {
        int64_t from = p->nobj ? max_end + 1 : f->log_start;
        add_range(pl, rcap, p, f, from, f->committed - 1, VFY_GAP_AFTER_LAST, holder, VFY_NONE);
    }
    p->nranges = pl->nranges - p->first_range;
}

void vfy_plan_build(vfy_plan_t *pl, vfy_object_t *objs, size_t nobjs, vfy_facts_t *facts,
                    size_t nfacts) {
    memset(pl, 0, sizeof *pl);
    if (nobjs) qsort(objs, nobjs, sizeof *objs, cmp_obj);
    if (nfacts) qsort(facts, nfacts, sizeof *facts, cmp_facts);
    size_t pcap = 0, rcap = 0, ocap = 0, i = 0, k = 0;
    /* merge the two sorted lists: a part per topic-partition in either */
    while (i < nobjs || k < nfacts) {
        vfy_part_t p;
        memset(&p, 0, sizeof p);
        p.first_offset = p.last_offset = -1;
        p.facts = VFY_NONE;
        p.reaches_committed = -1;
        int c;
        if (i >= nobjs)
            c = 1;
        else if (k >= nfacts)
            c = -1;
        else if (objs[i].topic != facts[k].topic)
            c = objs[i].topic < facts[k].topic ? -1 : 1;
        else if (objs[i].partition != facts[k].partition)
            c = objs[i].partition < facts[k].partition ? -1 : 1;
        else
            c = 0;
        if (c <= 0)
            p.topic = objs[i].topic, p.partition = objs[i].partition;
        else
            p.topic = facts[k].topic, p.partition = facts[k].partition;
        if (c >= 0) p.facts = k++;
        p.first_obj = i;
        while (c <= 0 && i < nobjs && objs[i].topic == p.topic && objs[i].partition == p.partition)
            i++;
        p.nobj = i - p.first_obj;
        /* facts listed twice for one partition: the first one counts */
        while (k < nfacts && facts[k].topic == p.topic && facts[k].partition == p.partition) k++;
        plan_part(pl, &rcap, &ocap, &p, objs, p.facts == VFY_NONE ? NULL : &facts[p.facts]);
        if (pl->nparts == pcap) {
            pcap = pcap ? pcap * 2 : 16;
            pl->parts = dp_xrealloc(pl->parts, pcap * sizeof *pl->parts);
        }
        pl->parts[pl->nparts++] = p;
    }
}

void vfy_plan_fini(vfy_plan_t *pl) {
    free(pl->parts);
    free(pl->ranges);
    free(pl->overlaps);
    memset(pl, 0, sizeof *pl);
}

void vfy_range_note(vfy_range_t *r, int64_t offset, int is_data) {
    if (!is_data || offset < r->from || offset > r->to) return;
    if (!r->data) r->first_data = offset;
    r->last_data = offset;
    r->data++;
}

void vfy_plan_finish(vfy_plan_t *pl, const vfy_facts_t *facts, size_t foreign, vfy_verdict_t *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < pl->nranges; i++) {
        vfy_range_t *r = &pl->ranges[i];
        if (r->unverified == VFY_UNV_NONE && !r->checked) r->unverified = VFY_UNV_UNREAD;
        if (r->unverified != VFY_UNV_NONE) {
            v->unverified++;
        } else if (r->data) {
            v->gaps++;
            v->missing += r->data;
        }
    }
    for (size_t i = 0; i < pl->nparts; i++) {
        vfy_part_t *p = &pl->parts[i];
        const vfy_facts_t *f = p->facts == VFY_NONE ? NULL : &facts[p->facts];
        p->reaches_committed = -1;
        p->behind = 0;
        if (!f) continue;
        int64_t end = p->nobj ? p->last_offset + 1 : f->log_start;
        p->behind = f->high > end ? f->high - end : 0;
        if (f->committed < 0) continue;
        p->reaches_committed = 1;
        for (size_t k = p->first_range; k < p->first_range + p->nranges; k++) {
            const vfy_range_t *r = &pl->ranges[k];
            if (r->kind != VFY_GAP_AFTER_LAST) continue;
            if (r->unverified == VFY_UNV_NONE && r->data)
                p->reaches_committed = 0;
            else if (r->unverified != VFY_UNV_NONE && p->reaches_committed == 1)
                p->reaches_committed = -1;
        }
    }
    v->overlaps = pl->noverlaps;
    v->foreign = foreign;
    v->complete = !v->gaps && !v->overlaps && !v->foreign;
}
