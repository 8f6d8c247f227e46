/* avro.c - Connect schema (JsonConverter JSON) -> Avro schema as AvroData
 * writes it, Connect JSON payload -> Avro binary, and the converter that
 * puts both behind Confluent's wire format with a cache of registry ids.
 *
 * The Avro schema JSON is written the way Avro's Schema.toString writes it
 * (AvroConverter registers that text): keys in Avro's order, a namespace
 * only where it differs from the enclosing one, a named type met again as a
 * reference, primitives without properties as bare strings. */
#include "event/avro.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AVRO_NS "io.confluent.connect.avro"
#define MAX_DEPTH 32
#define NO_NODE UINT32_MAX /* an absent JSON value (node 0 is the root) */

/* ---- binary primitives ---- */

dp_err_t dp_avro_put_long(dp_buf_t *b, int64_t v) {
    uint64_t u = (uint64_t)v;
    uint64_t z = (u << 1) ^ (0 - (u >> 63));
    uint8_t tmp[10];
    size_t n = 0;
    while (z >= 0x80) {
        tmp[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    tmp[n++] = (uint8_t)z;
    return dp_buf_append(b, tmp, n);
}

dp_err_t dp_avro_put_bytes(dp_buf_t *b, const void *p, size_t n) {
    dp_err_t err = dp_avro_put_long(b, (int64_t)n);
    return err ? err : dp_buf_append(b, p, n);
}

dp_err_t dp_avro_get_long(const uint8_t *p, size_t n, size_t *pos, int64_t *v) {
    uint64_t z = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= n) return DP_ERR_INVALID;
        uint8_t c = p[(*pos)++];
        if (shift == 63 && (c & 0x7e)) return DP_ERR_INVALID; /* more than 64 bits */
        z |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = (int64_t)((z >> 1) ^ (0 - (z & 1)));
            return DP_OK;
        }
    }
    return DP_ERR_INVALID;
}

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

dp_err_t dp_base64_decode(const char *s, size_t n, dp_buf_t *out) {
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1) return DP_ERR_INVALID;
    dp_err_t err = dp_buf_reserve(out, n / 4 * 3 + 3);
    if (err) return err;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) return DP_ERR_INVALID;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    return DP_OK;
}

/* ---- the encoding plan ---- */

typedef enum {
    AVK_BOOLEAN,
    AVK_INT,
    AVK_LONG,
    AVK_FLOAT,
    AVK_DOUBLE,
    AVK_STRING,
    AVK_BYTES,
    AVK_ARRAY,
    AVK_MAP,
    AVK_MAP_ENTRIES,
    AVK_RECORD
} avk_t;

typedef struct dp_avro_type av_type_t;

typedef struct av_field {
    char *name; /* the Connect field name, as in the payload */
    av_type_t *type;
} av_field_t;

struct dp_avro_type {
    avk_t kind;
    uint8_t optional; /* a union with null */
    uint8_t null_index; /* the union branch of null: 0, or 1 for [T, "null"] */
    int32_t min, max; /* AVK_INT: the Connect type's range */
    av_type_t *items; /* array items, map values, map entry values */
    av_type_t *keys; /* map entry keys */
    av_field_t *fields;
    uint32_t nfields;
};

struct dp_avro_schema {
    av_type_t *root;
    dp_buf_t json;
};

static void type_free(av_type_t *t) {
    if (!t) return;
    type_free(t->items);
    type_free(t->keys);
    for (uint32_t i = 0; i < t->nfields; i++) {
        free(t->fields[i].name);
        type_free(t->fields[i].type);
    }
    free(t->fields);
    free(t);
}

void dp_avro_schema_destroy(dp_avro_schema_t *s) {
    if (!s) return;
    type_free(s->root);
    dp_buf_fini(&s->json);
    free(s);
}

const char *dp_avro_schema_json(const dp_avro_schema_t *s, size_t *len) {
    if (len) *len = s->json.len;
    return (const char *)s->json.data;
}

/* ---- schema translation ---- */

typedef enum {
    CT_INT8,
    CT_INT16,
    CT_INT32,
    CT_INT64,
    CT_FLOAT32,
    CT_FLOAT64,
    CT_BOOLEAN,
    CT_STRING,
    CT_BYTES,
    CT_ARRAY,
    CT_MAP,
    CT_STRUCT
} ctype_t;

static const char *const ctype_names[] = {"int8",    "int16",  "int32", "int64", "float", "double",
                                          "boolean", "string", "bytes", "array", "map",   "struct"};

/* one Connect schema object, its members by node (0 = absent) */
typedef struct cschema {
    uint32_t node;
    ctype_t type;
    int optional;
    uint32_t name, version, doc, params, dflt, fields, items, keys, values;
} cschema_t;

typedef struct named {
    char *full; /* full name of a record already written */
    uint32_t fields; /* its Connect "fields" node, to tell a redefinition */
} named_t;

typedef struct gen {
    const dp_json_t *j;
    dp_buf_t *out;
    char *space; /* Avro's names.space while writing */
    named_t *named;
    size_t nnamed;
    int default_index; /* ConnectDefault, ConnectDefault2, ... */
    dp_buf_t tmp;
    char *errstr;
    size_t errn;
} gen_t;

static int is_type(const dp_json_t *j, uint32_t node, dp_json_type_t t) {
    return node && j->nodes[node].type == t;
}

/* str_eq: string node equals s (raw comparison, names carry no escapes in
 * practice; escaped ones are decoded) */
static int str_eq(const dp_json_t *j, uint32_t node, const char *s) {
    return is_type(j, node, DP_JSON_STRING) && dp_json_key_eq(j, node, s);
}

static char *str_dup(const dp_json_t *j, uint32_t node) {
    dp_buf_t b;
    dp_buf_init(&b, (size_t)j->nodes[node].len + 1);
    char *s = NULL;
    if (dp_json_str(j, node, &b) == DP_OK) {
        s = dp_xmalloc(b.len + 1);
        if (b.len) memcpy(s, b.data, b.len); /* an empty string has no data */
        s[b.len] = 0;
    }
    dp_buf_fini(&b);
    return s ? s : dp_xstrdup("");
}

static dp_err_t parse_cschema(gen_t *g, uint32_t node, cschema_t *cs) {
    const dp_json_t *j = g->j;
    memset(cs, 0, sizeof *cs);
    cs->node = node;
    if (j->nodes[node].type != DP_JSON_OBJECT)
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: a connect schema must be an object");
    uint32_t type = dp_json_get(j, node, "type");
    int found = 0;
    for (size_t i = 0; i < sizeof ctype_names / sizeof ctype_names[0]; i++) {
        if (str_eq(j, type, ctype_names[i])) {
            cs->type = (ctype_t)i;
            found = 1;
            break;
        }
    }
    if (!found)
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: unknown connect schema type \"%.*s\"",
                         type ? (int)j->nodes[type].len : 0, type ? dp_json_raw(j, type) : "");
    cs->optional = is_type(j, dp_json_get(j, node, "optional"), DP_JSON_TRUE);
    cs->name = dp_json_get(j, node, "name");
    if (cs->name && !is_type(j, cs->name, DP_JSON_STRING)) cs->name = 0;
    cs->version = dp_json_get(j, node, "version");
    if (cs->version && !is_type(j, cs->version, DP_JSON_NUMBER)) cs->version = 0;
    cs->doc = dp_json_get(j, node, "doc");
    if (cs->doc && !is_type(j, cs->doc, DP_JSON_STRING)) cs->doc = 0;
    cs->params = dp_json_get(j, node, "parameters");
    if (cs->params && !is_type(j, cs->params, DP_JSON_OBJECT)) cs->params = 0;
    cs->dflt = dp_json_get(j, node, "default");
    if (cs->dflt && is_type(j, cs->dflt, DP_JSON_NULL)) cs->dflt = 0;
    cs->fields = dp_json_get(j, node, "fields");
    cs->items = dp_json_get(j, node, "items");
    cs->keys = dp_json_get(j, node, "keys");
    cs->values = dp_json_get(j, node, "values");
    if (cs->type == CT_STRUCT && !is_type(j, cs->fields, DP_JSON_ARRAY))
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: struct schema without \"fields\"");
    if (cs->type == CT_ARRAY && !is_type(j, cs->items, DP_JSON_OBJECT))
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: array schema without \"items\"");
    if (cs->type == CT_MAP &&
        (!is_type(j, cs->keys, DP_JSON_OBJECT) || !is_type(j, cs->values, DP_JSON_OBJECT)))
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: map schema without \"keys\"/\"values\"");
    return DP_OK;
}

static uint32_t param(const gen_t *g, const cschema_t *cs, const char *key) {
    uint32_t v = cs->params ? dp_json_get(g->j, cs->params, key) : 0;
    return is_type(g->j, v, DP_JSON_STRING) ? v : 0;
}

static int param_int(const gen_t *g, const cschema_t *cs, const char *key, int dflt) {
    uint32_t v = param(g, cs, key);
    if (!v || g->j->nodes[v].len == 0 || g->j->nodes[v].len > 10) return dflt;
    char tmp[16];
    memcpy(tmp, dp_json_raw(g->j, v), g->j->nodes[v].len);
    tmp[g->j->nodes[v].len] = 0;
    char *end;
    long r = strtol(tmp, &end, 10);
    return *end ? dflt : (int)r;
}

/* put_raw: append node's JSON text as it stands (strings with quotes) */
static dp_err_t put_raw(dp_buf_t *b, const dp_json_t *j, uint32_t node) {
    const dp_json_node_t *nd = &j->nodes[node];
    if (nd->type == DP_JSON_STRING) {
        dp_buf_putc(b, '"');
        dp_buf_append(b, j->src + nd->start, nd->len);
        return dp_buf_putc(b, '"');
    }
    return dp_buf_append(b, j->src + nd->start, nd->len);
}

/* valid_name: Avro's validateName (letters beyond ASCII taken as letters) */
static int name_char(unsigned char c, int first) {
    if (c >= 0x80 || c == '_') return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return !first && c >= '0' && c <= '9';
}

static int valid_name(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i], i == 0)) return 0;
    return 1;
}

static dp_err_t check_full_name(gen_t *g, const char *full) {
    for (const char *p = full;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_name(p, n))
            return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                             "avro: \"%s\" is not a valid Avro name (letters, digits and _ only, "
                             "in dot-separated parts; Debezium's schema.name.adjustment.mode=avro "
                             "makes names valid)",
                             full);
        if (!dot) return DP_OK;
        p = dot + 1;
    }
}

static dp_err_t gen_type(gen_t *g, uint32_t node, int ignore_optional, int depth, av_type_t **out);

/* put_default: a Connect default (JsonConverter JSON) as AvroData's
 * defaultValueFromConnect writes it: bytes (and Decimal) as the ISO-8859-1
 * string of the bytes, maps with other than string keys as [key, value]
 * pairs, everything else as it stands. */
static dp_err_t put_default(gen_t *g, const cschema_t *cs, uint32_t v, int depth) {
    const dp_json_t *j = g->j;
    dp_buf_t *b = g->out;
    if (!v || j->nodes[v].type == DP_JSON_NULL) return dp_buf_puts(b, "null");
    if (depth > MAX_DEPTH)
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID, "avro: default nested too deep");
    switch (cs->type) {
    case CT_BYTES: {
        if (j->nodes[v].type != DP_JSON_STRING) break;
        dp_buf_t raw, u;
        dp_buf_init(&raw, (size_t)j->nodes[v].len + 4);
        dp_buf_init(&u, (size_t)j->nodes[v].len * 2 + 8);
        dp_err_t err = dp_base64_decode(dp_json_raw(j, v), j->nodes[v].len, &raw);
        for (size_t i = 0; !err && i < raw.len; i++) {
            uint8_t c = raw.data[i];
            if (c < 0x80)
                err = dp_buf_putc(&u, (char)c);
            else if (!(err = dp_buf_putc(&u, (char)(0xc0 | c >> 6))))
                err = dp_buf_putc(&u, (char)(0x80 | (c & 0x3f)));
        }
        if (!err) err = dp_json_put_str(b, (const char *)u.data, u.len);
        dp_buf_fini(&raw);
        dp_buf_fini(&u);
        if (err)
            return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID, "avro: bad bytes default value");
        return DP_OK;
    }
    case CT_ARRAY: {
        if (j->nodes[v].type != DP_JSON_ARRAY) break;
        cschema_t item;
        dp_err_t err = parse_cschema(g, cs->items, &item);
        if (err) return err;
        dp_buf_putc(b, '[');
        for (uint32_t e = j->nodes[v].child; e; e = j->nodes[e].next) {
            if (e != j->nodes[v].child) dp_buf_putc(b, ',');
            if ((err = put_default(g, &item, e, depth + 1))) return err;
        }
        return dp_buf_putc(b, ']');
    }
    case CT_MAP: {
        cschema_t k, val;
        dp_err_t err = parse_cschema(g, cs->keys, &k);
        if (!err) err = parse_cschema(g, cs->values, &val);
        if (err) return err;
        if (k.type == CT_STRING && !k.optional && j->nodes[v].type == DP_JSON_OBJECT) {
            dp_buf_putc(b, '{');
            for (uint32_t e = j->nodes[v].child; e; e = j->nodes[j->nodes[e].next].next) {
                if (e != j->nodes[v].child) dp_buf_putc(b, ',');
                put_raw(b, j, e);
                dp_buf_putc(b, ':');
                if ((err = put_default(g, &val, j->nodes[e].next, depth + 1))) return err;
            }
            return dp_buf_putc(b, '}');
        }
        if (j->nodes[v].type != DP_JSON_ARRAY) break;
        dp_buf_putc(b, '[');
        for (uint32_t e = j->nodes[v].child; e; e = j->nodes[e].next) {
            uint32_t kn = j->nodes[e].child, vn = kn ? j->nodes[kn].next : 0;
            if (j->nodes[e].type != DP_JSON_ARRAY || !vn) break;
            if (e != j->nodes[v].child) dp_buf_putc(b, ',');
            dp_buf_putc(b, '[');
            if ((err = put_default(g, &k, kn, depth + 1))) return err;
            dp_buf_putc(b, ',');
            if ((err = put_default(g, &val, vn, depth + 1))) return err;
            dp_buf_putc(b, ']');
        }
        return dp_buf_putc(b, ']');
    }
    case CT_STRUCT: {
        if (j->nodes[v].type != DP_JSON_OBJECT) break;
        dp_buf_putc(b, '{');
        int first = 1;
        for (uint32_t f = j->nodes[cs->fields].child; f; f = j->nodes[f].next) {
            cschema_t fs;
            dp_err_t err = parse_cschema(g, f, &fs);
            if (err) return err;
            uint32_t fname = dp_json_get(j, f, "field");
            if (!is_type(j, fname, DP_JSON_STRING)) continue;
            char *name = str_dup(j, fname);
            uint32_t fv = dp_json_get(j, v, name);
            free(name);
            if (!first) dp_buf_putc(b, ',');
            first = 0;
            put_raw(b, j, fname);
            dp_buf_putc(b, ':');
            if ((err = put_default(g, &fs, fv, depth + 1))) return err;
        }
        return dp_buf_putc(b, '}');
    }
    default: return put_raw(b, j, v);
    }
    return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                     "avro: default value does not match its %s schema", ctype_names[cs->type]);
}

static int is_decimal(const gen_t *g, const cschema_t *cs) {
    if (!cs->name || cs->type != CT_BYTES) return 0;
    const dp_json_node_t *nd = &g->j->nodes[cs->name];
    return nd->len == 37 &&
        strncasecmp(dp_json_raw(g->j, cs->name), "org.apache.kafka.connect.data.Decimal", 37) == 0;
}

static int name_is(const gen_t *g, const cschema_t *cs, const char *s) {
    if (!cs->name) return 0;
    const dp_json_node_t *nd = &g->j->nodes[cs->name];
    return nd->len == strlen(s) && strncasecmp(dp_json_raw(g->j, cs->name), s, nd->len) == 0;
}

/* put_props: the properties AvroData puts on a non-union base schema, in
 * its order, each as ,"key":value */
static dp_err_t put_props(gen_t *g, const cschema_t *cs) {
    const dp_json_t *j = g->j;
    dp_buf_t *b = g->out;
    int decimal = is_decimal(g, cs);
    int precision = 0, scale = 0;
    if (decimal) {
        scale = param_int(g, cs, "scale", 0);
        precision = param_int(g, cs, "connect.decimal.precision", 64);
        dp_buf_printf(b, ",\"scale\":%d,\"precision\":%d", scale, precision);
    }
    if (cs->doc) {
        dp_buf_puts(b, ",\"connect.doc\":");
        put_raw(b, j, cs->doc);
    }
    if (cs->version) {
        dp_buf_puts(b, ",\"connect.version\":");
        put_raw(b, j, cs->version);
    }
    int default_flag = 0;
    if (cs->params) {
        int any = 0;
        for (uint32_t k = j->nodes[cs->params].child; k; k = j->nodes[j->nodes[k].next].next) {
            uint32_t v = j->nodes[k].next;
            if (dp_json_key_eq(j, k, AVRO_NS ".field.default")) {
                default_flag = 1;
                continue;
            }
            if (j->nodes[v].type != DP_JSON_STRING) continue;
            dp_buf_puts(b, any ? "," : ",\"connect.parameters\":{");
            any = 1;
            put_raw(b, j, k);
            dp_buf_putc(b, ':');
            put_raw(b, j, v);
        }
        if (any) dp_buf_putc(b, '}');
    }
    if (cs->dflt && !default_flag) {
        dp_buf_puts(b, ",\"connect.default\":");
        dp_err_t err = put_default(g, cs, cs->dflt, 0);
        if (err) return err;
    }
    if (cs->name) {
        dp_buf_puts(b, ",\"connect.name\":");
        put_raw(b, j, cs->name);
    }
    if (cs->type == CT_INT8) dp_buf_puts(b, ",\"connect.type\":\"int8\"");
    if (cs->type == CT_INT16) dp_buf_puts(b, ",\"connect.type\":\"int16\"");
    if (decimal)
        dp_buf_puts(b, ",\"logicalType\":\"decimal\"");
    else if (cs->type == CT_INT32 && name_is(g, cs, "org.apache.kafka.connect.data.Time"))
        dp_buf_puts(b, ",\"logicalType\":\"time-millis\"");
    else if (cs->type == CT_INT64 && name_is(g, cs, "org.apache.kafka.connect.data.Timestamp"))
        dp_buf_puts(b, ",\"logicalType\":\"timestamp-millis\"");
    else if (cs->type == CT_INT32 && name_is(g, cs, "org.apache.kafka.connect.data.Date"))
        dp_buf_puts(b, ",\"logicalType\":\"date\"");
    /* parameters starting with "avro" become properties of their own */
    for (uint32_t k = cs->params ? j->nodes[cs->params].child : 0; k;
         k = j->nodes[j->nodes[k].next].next) {
        uint32_t v = j->nodes[k].next;
        if (j->nodes[k].len >= 4 && memcmp(dp_json_raw(j, k), "avro", 4) == 0 &&
            j->nodes[v].type == DP_JSON_STRING) {
            dp_buf_putc(b, ',');
            put_raw(b, j, k);
            dp_buf_putc(b, ':');
            put_raw(b, j, v);
        }
    }
    return b->overflow ? dp_seterr(g->errstr, g->errn, DP_ERR_NOMEM, "avro: schema too large")
                       : DP_OK;
}

/* put_primitive: "int" bare, or {"type":"int",props} */
static dp_err_t put_primitive(gen_t *g, const cschema_t *cs, const char *avro_type) {
    dp_buf_t *b = g->out;
    size_t mark = b->len;
    dp_buf_printf(b, "{\"type\":\"%s\"", avro_type);
    size_t before = b->len;
    dp_err_t err = put_props(g, cs);
    if (err) return err;
    if (b->len == before) {
        b->len = mark;
        return dp_buf_printf(b, "\"%s\"", avro_type);
    }
    return dp_buf_putc(b, '}');
}

static named_t *find_named(gen_t *g, const char *full) {
    for (size_t i = 0; i < g->nnamed; i++)
        if (strcmp(g->named[i].full, full) == 0) return &g->named[i];
    return NULL;
}

/* put_name_ref: a reference to a written named type, as Avro qualifies it */
static dp_err_t put_name_ref(gen_t *g, const char *space, const char *name, const char *full) {
    int same = space == NULL || (g->space && strcmp(space, g->space) == 0);
    return dp_json_put_str(g->out, same ? name : full, strlen(same ? name : full));
}

/* begin_named: write "name" (and "namespace" where Avro would) of a named
 * type; *saved gets the enclosing namespace, the fields' namespace is set */
static void begin_named(gen_t *g, const char *space, const char *name, char **saved) {
    dp_buf_t *b = g->out;
    dp_buf_puts(b, ",\"name\":");
    dp_json_put_str(b, name, strlen(name));
    if (space) {
        if (!g->space || strcmp(space, g->space) != 0) {
            dp_buf_puts(b, ",\"namespace\":");
            dp_json_put_str(b, space, strlen(space));
        }
    } else if (g->space) {
        dp_buf_puts(b, ",\"namespace\":\"\"");
    }
    *saved = g->space;
    g->space = space ? dp_xstrdup(space) : NULL;
}

static void end_named(gen_t *g, char *saved) {
    free(g->space);
    g->space = saved;
}

/* split_name: full name at its last dot into (space or NULL, name) */
static void split_name(const char *full, char **space, char **name) {
    const char *dot = strrchr(full, '.');
    if (!dot) {
        *space = NULL;
        *name = dp_xstrdup(full);
        return;
    }
    *space = dp_xmalloc((size_t)(dot - full) + 1);
    memcpy(*space, full, (size_t)(dot - full));
    (*space)[dot - full] = 0;
    *name = dp_xstrdup(dot + 1);
}

/* put_field: one record field (name, type, default) as addAvroRecordField */
static dp_err_t put_field(gen_t *g, const cschema_t *rec, uint32_t fnode, av_field_t *f,
                          int depth) {
    const dp_json_t *j = g->j;
    dp_buf_t *b = g->out;
    uint32_t fname = dp_json_get(j, fnode, "field");
    if (!is_type(j, fname, DP_JSON_STRING))
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: struct field without \"field\" name");
    f->name = str_dup(j, fname);
    if (!valid_name(f->name, strlen(f->name)))
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                         "avro: field name \"%s\" is not a valid Avro name (letters, digits and _ "
                         "only; Debezium's field.name.adjustment.mode=avro makes names valid)",
                         f->name);
    cschema_t fs;
    dp_err_t err = parse_cschema(g, fnode, &fs);
    if (err) return err;
    /* a named type seen before gets its parameters on the field */
    char *full = fs.name ? str_dup(j, fs.name) : NULL;
    int seen = full && find_named(g, full) != NULL;
    free(full);
    dp_buf_puts(b, "{\"name\":");
    dp_json_put_str(b, f->name, strlen(f->name));
    dp_buf_puts(b, ",\"type\":");
    if ((err = gen_type(g, fnode, 0, depth + 1, &f->type))) return err;
    /* doc: AvroData's field doc parameter on the record */
    if (rec->params) {
        char key[600];
        snprintf(key, sizeof key, AVRO_NS ".field.doc.%s", f->name);
        uint32_t d = dp_json_get(j, rec->params, key);
        if (is_type(j, d, DP_JSON_STRING)) {
            dp_buf_puts(b, ",\"doc\":");
            put_raw(b, j, d);
        }
    }
    if (fs.dflt) {
        /* a union's default must match its first branch: an optional struct
         * (null first) with a default is left without one, as Avro drops an
         * invalid default */
        if (!(fs.optional && fs.type == CT_STRUCT)) {
            dp_buf_puts(b, ",\"default\":");
            if ((err = put_default(g, &fs, fs.dflt, 0))) return err;
        }
    } else if (fs.optional) {
        dp_buf_puts(b, ",\"default\":null");
    }
    if (seen && fs.type == CT_STRUCT && fs.params && g->j->nodes[fs.params].count) {
        int any = 0;
        for (uint32_t k = j->nodes[fs.params].child; k; k = j->nodes[j->nodes[k].next].next) {
            uint32_t v = j->nodes[k].next;
            if (dp_json_key_eq(j, k, AVRO_NS ".field.default") ||
                j->nodes[v].type != DP_JSON_STRING)
                continue;
            dp_buf_puts(b, any ? "," : ",\"connect.parameters\":{");
            any = 1;
            put_raw(b, j, k);
            dp_buf_putc(b, ':');
            put_raw(b, j, v);
        }
        if (any) dp_buf_putc(b, '}');
    }
    return dp_buf_putc(b, '}');
}

static dp_err_t gen_record(gen_t *g, const cschema_t *cs, av_type_t *t, int depth) {
    const dp_json_t *j = g->j;
    dp_buf_t *b = g->out;
    char *full;
    if (cs->name) {
        full = str_dup(j, cs->name);
    } else {
        char tmp[64];
        int idx = ++g->default_index;
        if (idx > 1)
            snprintf(tmp, sizeof tmp, AVRO_NS ".ConnectDefault%d", idx);
        else
            snprintf(tmp, sizeof tmp, AVRO_NS ".ConnectDefault");
        full = dp_xstrdup(tmp);
    }
    char *space, *name;
    split_name(full, &space, &name);
    dp_err_t err = check_full_name(g, full);
    t->kind = AVK_RECORD;
    /* the encoding plan is built for every occurrence; the schema text
     * refers to a record written before by its name */
    named_t *seen = err ? NULL : find_named(g, full);
    size_t mark = b->len;
    char *saved = NULL;
    int begun = 0;
    if (!err && seen) {
        const dp_json_node_t *a = &j->nodes[seen->fields], *c = &j->nodes[cs->fields];
        if (a->len != c->len || memcmp(j->src + a->start, j->src + c->start, a->len) != 0)
            err = dp_seterr(g->errstr, g->errn, DP_ERR_INVALID,
                            "avro: record \"%s\" is defined twice with different fields", full);
    } else if (!err) {
        g->named = dp_xrealloc(g->named, sizeof *g->named * (g->nnamed + 1));
        g->named[g->nnamed].full = dp_xstrdup(full);
        g->named[g->nnamed].fields = cs->fields;
        g->nnamed++;
        dp_buf_puts(b, "{\"type\":\"record\"");
        begin_named(g, space, name, &saved);
        begun = 1;
        uint32_t rdoc = param(g, cs, AVRO_NS ".record.doc");
        if (rdoc) {
            dp_buf_puts(b, ",\"doc\":");
            put_raw(b, j, rdoc);
        }
        dp_buf_puts(b, ",\"fields\":[");
    }
    uint32_t nf = err ? 0 : j->nodes[cs->fields].count;
    t->fields = nf ? dp_xcalloc(nf, sizeof *t->fields) : NULL;
    for (uint32_t f = nf ? j->nodes[cs->fields].child : 0; f && !err; f = j->nodes[f].next) {
        if (t->nfields && !seen) dp_buf_putc(b, ',');
        av_field_t *af = &t->fields[t->nfields++];
        if (seen) {
            /* plan only: write into scratch and drop it */
            size_t m2 = b->len;
            err = put_field(g, cs, f, af, depth);
            b->len = m2;
        } else {
            err = put_field(g, cs, f, af, depth);
        }
    }
    if (!err && seen) {
        b->len = mark;
        err = put_name_ref(g, space, name, full);
    } else if (!err) {
        dp_buf_putc(b, ']');
        err = put_props(g, cs);
        if (!err) dp_buf_putc(b, '}');
    }
    if (begun) end_named(g, saved);
    free(full);
    free(space);
    free(name);
    return err;
}

static dp_err_t gen_base(gen_t *g, const cschema_t *cs, av_type_t *t, int depth) {
    dp_buf_t *b = g->out;
    dp_err_t err;
    switch (cs->type) {
    case CT_INT8:
        t->kind = AVK_INT;
        t->min = -128;
        t->max = 127;
        return put_primitive(g, cs, "int");
    case CT_INT16:
        t->kind = AVK_INT;
        t->min = -32768;
        t->max = 32767;
        return put_primitive(g, cs, "int");
    case CT_INT32:
        t->kind = AVK_INT;
        t->min = INT32_MIN;
        t->max = INT32_MAX;
        return put_primitive(g, cs, "int");
    case CT_INT64: t->kind = AVK_LONG; return put_primitive(g, cs, "long");
    case CT_FLOAT32: t->kind = AVK_FLOAT; return put_primitive(g, cs, "float");
    case CT_FLOAT64: t->kind = AVK_DOUBLE; return put_primitive(g, cs, "double");
    case CT_BOOLEAN: t->kind = AVK_BOOLEAN; return put_primitive(g, cs, "boolean");
    case CT_STRING: t->kind = AVK_STRING; return put_primitive(g, cs, "string");
    case CT_BYTES: t->kind = AVK_BYTES; return put_primitive(g, cs, "bytes");
    case CT_ARRAY:
        t->kind = AVK_ARRAY;
        dp_buf_puts(b, "{\"type\":\"array\",\"items\":");
        if ((err = gen_type(g, cs->items, 0, depth + 1, &t->items))) return err;
        if ((err = put_props(g, cs))) return err;
        return dp_buf_putc(b, '}');
    case CT_MAP: {
        cschema_t k;
        if ((err = parse_cschema(g, cs->keys, &k))) return err;
        if (k.type == CT_STRING && !k.optional) {
            t->kind = AVK_MAP;
            dp_buf_puts(b, "{\"type\":\"map\",\"values\":");
            if ((err = gen_type(g, cs->values, 0, depth + 1, &t->items))) return err;
            if ((err = put_props(g, cs))) return err;
            return dp_buf_putc(b, '}');
        }
        /* array of MapEntry records {key, value} */
        t->kind = AVK_MAP_ENTRIES;
        char *full = cs->name ? str_dup(g->j, cs->name) : dp_xstrdup(AVRO_NS ".MapEntry");
        char *space, *name;
        split_name(full, &space, &name);
        err = check_full_name(g, full);
        dp_buf_puts(b, "{\"type\":\"array\",\"items\":");
        if (!err && find_named(g, full)) {
            err = dp_seterr(g->errstr, g->errn, DP_ERR_UNSUPPORTED,
                            "avro: a second map with non-string keys named \"%s\"", full);
        } else if (!err) {
            g->named = dp_xrealloc(g->named, sizeof *g->named * (g->nnamed + 1));
            g->named[g->nnamed].full = dp_xstrdup(full);
            g->named[g->nnamed].fields = cs->node;
            g->nnamed++;
            char *saved;
            dp_buf_puts(b, "{\"type\":\"record\"");
            begin_named(g, space, name, &saved);
            dp_buf_puts(b, ",\"fields\":[{\"name\":\"key\",\"type\":");
            err = gen_type(g, cs->keys, 0, depth + 1, &t->keys);
            if (!err && k.dflt) {
                dp_buf_puts(b, ",\"default\":");
                err = put_default(g, &k, k.dflt, 0);
            } else if (!err && k.optional) {
                dp_buf_puts(b, ",\"default\":null");
            }
            if (!err) {
                cschema_t v;
                dp_buf_puts(b, "},{\"name\":\"value\",\"type\":");
                err = parse_cschema(g, cs->values, &v);
                if (!err) err = gen_type(g, cs->values, 0, depth + 1, &t->items);
                if (!err && v.dflt) {
                    dp_buf_puts(b, ",\"default\":");
                    err = put_default(g, &v, v.dflt, 0);
                } else if (!err && v.optional) {
                    dp_buf_puts(b, ",\"default\":null");
                }
                dp_buf_puts(b, "}]");
                if (!err && cs->name) dp_buf_puts(b, ",\"connect.internal.type\":\"MapEntry\"");
                dp_buf_putc(b, '}');
            }
            end_named(g, saved);
        }
        free(full);
        free(space);
        free(name);
        if (!err) err = put_props(g, cs);
        if (!err) dp_buf_putc(b, '}');
        return err;
    }
    case CT_STRUCT: return gen_record(g, cs, t, depth);
    }
    return DP_ERR_INVALID;
}

static dp_err_t gen_type(gen_t *g, uint32_t node, int ignore_optional, int depth, av_type_t **out) {
    *out = dp_xcalloc(1, sizeof **out);
    if (depth > MAX_DEPTH)
        return dp_seterr(g->errstr, g->errn, DP_ERR_INVALID, "avro: schema nested deeper than %d",
                         MAX_DEPTH);
    cschema_t cs;
    dp_err_t err = parse_cschema(g, node, &cs);
    if (err) return err;
    av_type_t *t = *out;
    dp_buf_t *b = g->out;
    if (cs.optional && !ignore_optional) {
        t->optional = 1;
        /* maybeMakeOptional: the default value's branch first */
        t->null_index = cs.dflt && cs.type != CT_STRUCT ? 1 : 0;
        dp_buf_puts(b, t->null_index ? "[" : "[\"null\",");
    }
    if ((err = gen_base(g, &cs, t, depth))) return err;
    if (t->optional) dp_buf_puts(b, t->null_index ? ",\"null\"]" : "]");
    return b->overflow ? dp_seterr(g->errstr, g->errn, DP_ERR_NOMEM, "avro: schema too large")
                       : DP_OK;
}

dp_err_t dp_avro_schema_new(const dp_json_t *j, uint32_t node, dp_avro_schema_t **out, char *errstr,
                            size_t errstr_size) {
    dp_avro_schema_t *s = dp_xcalloc(1, sizeof *s);
    dp_buf_init(&s->json, 16 << 20);
    gen_t g = {.j = j, .out = &s->json, .errstr = errstr, .errn = errstr_size};
    dp_err_t err = gen_type(&g, node, 0, 0, &s->root);
    for (size_t i = 0; i < g.nnamed; i++) free(g.named[i].full);
    free(g.named);
    free(g.space);
    if (!err) dp_buf_cstr(&s->json);
    if (!err && s->json.overflow)
        err = dp_seterr(errstr, errstr_size, DP_ERR_NOMEM, "avro: schema too large");
    if (err) {
        dp_avro_schema_destroy(s);
        s = NULL;
    }
    *out = s;
    return err;
}

/* ---- payload encoding ---- */

typedef struct enc {
    const dp_json_t *j;
    dp_buf_t *out;
    dp_buf_t scratch;
    char *errstr;
    size_t errn;
    const char *field; /* the field being encoded, for messages */
} enc_t;

static dp_err_t enc_err(enc_t *e, const char *what, uint32_t node) {
    const dp_json_node_t *nd = &e->j->nodes[node];
    return dp_seterr(e->errstr, e->errn, DP_ERR_INVALID, "avro: field \"%s\": %s, got %.*s",
                     e->field ? e->field : "(top)", what, nd->len > 40 ? 40 : (int)nd->len,
                     e->j->src + nd->start);
}

static dp_err_t put_le(dp_buf_t *b, uint64_t v, int n) {
    uint8_t tmp[8];
    for (int i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    return dp_buf_append(b, tmp, (size_t)n);
}

/* special_double: JsonConverter writes NaN and the infinities as strings;
 * s[0..n) is the inside of such a string */
static int special_double(const char *s, size_t n, double *d) {
    if (n == 3 && memcmp(s, "NaN", 3) == 0)
        *d = NAN;
    else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
        *d = INFINITY;
    else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
        *d = -INFINITY;
    else
        return -1;
    return 0;
}

static int parse_double(enc_t *e, uint32_t node, double *d) {
    const dp_json_node_t *nd = &e->j->nodes[node];
    const char *s = e->j->src + nd->start;
    if (nd->type == DP_JSON_STRING) return special_double(s, nd->len, d);
    if (nd->type != DP_JSON_NUMBER || nd->len >= 64) return -1;
    char tmp[64];
    memcpy(tmp, s, nd->len);
    tmp[nd->len] = 0;
    char *end;
    *d = strtod(tmp, &end);
    return *end ? -1 : 0;
}

static dp_err_t enc_value(enc_t *e, const av_type_t *t, uint32_t node, int depth);

static dp_err_t enc_record(enc_t *e, const av_type_t *t, uint32_t node, int depth) {
    const dp_json_t *j = e->j;
    if (j->nodes[node].type != DP_JSON_OBJECT) return enc_err(e, "expected an object", node);
    /* members usually come in field order: try the next one first */
    uint32_t cursor = j->nodes[node].child;
    dp_err_t err = DP_OK;
    for (uint32_t i = 0; i < t->nfields && !err; i++) {
        const av_field_t *f = &t->fields[i];
        uint32_t v = 0;
        if (cursor && dp_json_key_eq(j, cursor, f->name)) {
            v = j->nodes[cursor].next;
            cursor = j->nodes[v].next;
        } else {
            v = dp_json_get(j, node, f->name);
            if (!v) v = NO_NODE; /* a missing member is a null */
        }
        const char *saved = e->field;
        e->field = f->name;
        err = enc_value(e, f->type, v, depth + 1);
        e->field = saved;
    }
    return err;
}

static dp_err_t enc_value(enc_t *e, const av_type_t *t, uint32_t node, int depth) {
    const dp_json_t *j = e->j;
    dp_buf_t *b = e->out;
    if (depth > MAX_DEPTH * 2)
        return dp_seterr(e->errstr, e->errn, DP_ERR_INVALID, "avro: value nested too deep");
    int is_null = node == NO_NODE || j->nodes[node].type == DP_JSON_NULL;
    if (t->optional) {
        if (is_null) return dp_avro_put_long(b, t->null_index);
        dp_avro_put_long(b, t->null_index ? 0 : 1);
    } else if (is_null) {
        return dp_seterr(e->errstr, e->errn, DP_ERR_INVALID,
                         "avro: field \"%s\": null for a required value",
                         e->field ? e->field : "(top)");
    }
    const dp_json_node_t *nd = &j->nodes[node];
    dp_err_t err;
    switch (t->kind) {
    case AVK_BOOLEAN:
        if (nd->type != DP_JSON_TRUE && nd->type != DP_JSON_FALSE)
            return enc_err(e, "expected a boolean", node);
        return dp_buf_putc(b, nd->type == DP_JSON_TRUE ? 1 : 0);
    case AVK_INT:
    case AVK_LONG: {
        int64_t v;
        if (dp_json_int64(j, node, &v)) return enc_err(e, "expected an integer", node);
        if (t->kind == AVK_INT && (v < t->min || v > t->max))
            return enc_err(e, "integer out of range", node);
        return dp_avro_put_long(b, v);
    }
    case AVK_FLOAT: {
        double d;
        if (parse_double(e, node, &d)) return enc_err(e, "expected a number", node);
        float f = (float)d;
        uint32_t u;
        memcpy(&u, &f, 4);
        return put_le(b, u, 4);
    }
    case AVK_DOUBLE: {
        double d;
        if (parse_double(e, node, &d)) return enc_err(e, "expected a number", node);
        uint64_t u;
        memcpy(&u, &d, 8);
        return put_le(b, u, 8);
    }
    case AVK_STRING:
        if (nd->type != DP_JSON_STRING) return enc_err(e, "expected a string", node);
        if (!memchr(j->src + nd->start, '\\', nd->len))
            return dp_avro_put_bytes(b, j->src + nd->start, nd->len);
        if ((err = dp_json_str(j, node, &e->scratch))) return err;
        return dp_avro_put_bytes(b, e->scratch.data, e->scratch.len);
    case AVK_BYTES:
        if (nd->type != DP_JSON_STRING) return enc_err(e, "expected a base64 string", node);
        dp_buf_reset(&e->scratch);
        if ((err = dp_base64_decode(j->src + nd->start, nd->len, &e->scratch)))
            return err == DP_ERR_NOMEM ? err : enc_err(e, "expected a base64 string", node);
        return dp_avro_put_bytes(b, e->scratch.data, e->scratch.len);
    case AVK_ARRAY:
        if (nd->type != DP_JSON_ARRAY) return enc_err(e, "expected an array", node);
        if (nd->count) {
            dp_avro_put_long(b, nd->count);
            for (uint32_t x = nd->child; x; x = j->nodes[x].next)
                if ((err = enc_value(e, t->items, x, depth + 1))) return err;
        }
        return dp_buf_putc(b, 0);
    case AVK_MAP:
        if (nd->type != DP_JSON_OBJECT) return enc_err(e, "expected an object", node);
        if (nd->count) {
            dp_avro_put_long(b, nd->count / 2);
            for (uint32_t k = nd->child; k; k = j->nodes[j->nodes[k].next].next) {
                if ((err = dp_json_str(j, k, &e->scratch))) return err;
                if ((err = dp_avro_put_bytes(b, e->scratch.data, e->scratch.len))) return err;
                if ((err = enc_value(e, t->items, j->nodes[k].next, depth + 1))) return err;
            }
        }
        return dp_buf_putc(b, 0);
    case AVK_MAP_ENTRIES:
        if (nd->type != DP_JSON_ARRAY) return enc_err(e, "expected an array of [key, value]", node);
        if (nd->count) {
            dp_avro_put_long(b, nd->count);
            for (uint32_t x = nd->child; x; x = j->nodes[x].next) {
                uint32_t k = j->nodes[x].child, v = k ? j->nodes[k].next : 0;
                if (j->nodes[x].type != DP_JSON_ARRAY || j->nodes[x].count != 2)
                    return enc_err(e, "expected a [key, value] pair", x);
                if ((err = enc_value(e, t->keys, k, depth + 1))) return err;
                if ((err = enc_value(e, t->items, v, depth + 1))) return err;
            }
        }
        return dp_buf_putc(b, 0);
    case AVK_RECORD: return enc_record(e, t, node, depth);
    }
    return DP_ERR_INVALID;
}

dp_err_t dp_avro_encode(const dp_avro_schema_t *s, const dp_json_t *j, uint32_t node, dp_buf_t *out,
                        char *errstr, size_t errstr_size) {
    enc_t e = {.j = j, .out = out, .errstr = errstr, .errn = errstr_size};
    dp_buf_init(&e.scratch, out->max ? out->max : 1);
    dp_err_t err = enc_value(&e, s->root, node, 0);
    dp_buf_fini(&e.scratch);
    if (!err && out->overflow) err = DP_ERR_NOMEM;
    if (err == DP_ERR_NOMEM)
        dp_seterr(errstr, errstr_size, DP_ERR_NOMEM,
                  "avro: encoded value larger than its bound "
                  "(%zu bytes)",
                  out->max);
    return err;
}

/* ---- typed values under a plan (the event writers) ---- */

const dp_avro_type_t *dp_avro_schema_root(const dp_avro_schema_t *s) { return s->root; }
int dp_avro_is_record(const dp_avro_type_t *t) { return t->kind == AVK_RECORD; }
uint32_t dp_avro_nfields(const dp_avro_type_t *t) { return t->nfields; }
const char *dp_avro_field_name(const dp_avro_type_t *t, uint32_t i) { return t->fields[i].name; }
const dp_avro_type_t *dp_avro_field_type(const dp_avro_type_t *t, uint32_t i) {
    return t->fields[i].type;
}

dp_err_t dp_avro_put_null(const dp_avro_type_t *t, dp_buf_t *out, const char *field, char *errstr,
                          size_t errstr_size) {
    if (t->optional) return dp_avro_put_long(out, t->null_index);
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                     "avro: field \"%s\": null for a required "
                     "value",
                     field ? field : "(top)");
}

dp_err_t dp_avro_put_present(const dp_avro_type_t *t, dp_buf_t *out) {
    return t->optional ? dp_avro_put_long(out, t->null_index ? 0 : 1) : DP_OK;
}

static dp_err_t kind_err(const char *field, const char *what, char *errstr, size_t n) {
    return dp_seterr(errstr, n, DP_ERR_INVALID, "avro: field \"%s\": expected %s",
                     field ? field : "(top)", what);
}

dp_err_t dp_avro_put_string(const dp_avro_type_t *t, const char *s, size_t n, dp_buf_t *out,
                            const char *field, char *errstr, size_t errstr_size) {
    if (t->kind != AVK_STRING) return kind_err(field, "a string", errstr, errstr_size);
    dp_avro_put_present(t, out);
    return dp_avro_put_bytes(out, s, n);
}

dp_err_t dp_avro_put_integer(const dp_avro_type_t *t, int64_t v, dp_buf_t *out, const char *field,
                             char *errstr, size_t errstr_size) {
    if (t->kind != AVK_LONG && t->kind != AVK_INT)
        return kind_err(field, "an integer", errstr, errstr_size);
    if (t->kind == AVK_INT && (v < t->min || v > t->max))
        return kind_err(field, "an integer in range", errstr, errstr_size);
    dp_avro_put_present(t, out);
    return dp_avro_put_long(out, v);
}

dp_err_t dp_avro_put_array(const dp_avro_type_t *t, uint64_t count, dp_buf_t *out,
                           const dp_avro_type_t **items, const char *field, char *errstr,
                           size_t errstr_size) {
    if (t->kind != AVK_ARRAY || count > INT64_MAX)
        return kind_err(field, "an array", errstr, errstr_size);
    *items = t->items;
    dp_avro_put_present(t, out);
    return count ? dp_avro_put_long(out, (int64_t)count) : DP_OK;
}

dp_err_t dp_avro_put_array_end(dp_buf_t *out) { return dp_buf_putc(out, 0); }

void dp_avro_tok_init(dp_avro_tok_t *k, size_t max_bytes) {
    memset(k, 0, sizeof *k);
    dp_buf_init(&k->text, max_bytes);
    dp_buf_init(&k->scratch, max_bytes);
}

void dp_avro_tok_fini(dp_avro_tok_t *k) {
    dp_buf_fini(&k->text);
    dp_buf_fini(&k->scratch);
    dp_json_fini(&k->j);
}

/* tok_int: an integer token as dp_json_int64 reads one: digits, a leading
 * minus, no fraction or exponent */
static int tok_int(const char *s, size_t n, int64_t *v) {
    size_t i = n && s[0] == '-';
    if (i == n || n - i > 19) return -1; /* more digits may overflow: the parser decides */
    uint64_t r = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        r = r * 10 + (uint64_t)(s[i] - '0');
    }
    if (r > (s[0] == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) return -1;
    *v = s[0] == '-' ? (int64_t)(0 - r) : (int64_t)r;
    return 0;
}

static int tok_fast(const av_type_t *t, const char *s, size_t n, dp_avro_tok_t *k, dp_buf_t *out);

/* tok_item_end: where the array item starting at s[i] ends (a string, a
 * flat object such as a VariableScaleDecimal, or a plain token up to the
 * next ',' or ']'); 0 for a nested array or object, which the parser takes */
static size_t tok_item_end(const char *s, size_t i, size_t n) {
    if (s[i] == '[') return 0;
    if (s[i] == '"') {
        for (size_t j = i + 1; j < n; j++) {
            if (s[j] == '\\')
                j++;
            else if (s[j] == '"')
                return j + 1;
        }
        return 0;
    }
    if (s[i] == '{') {
        int in_str = 0;
        for (size_t j = i + 1; j < n; j++) {
            if (in_str && s[j] == '\\')
                j++;
            else if (s[j] == '"')
                in_str = !in_str;
            else if (!in_str && (s[j] == '{' || s[j] == '['))
                return 0;
            else if (!in_str && s[j] == '}')
                return j + 1;
        }
        return 0;
    }
    size_t j = i;
    while (j < n && s[j] != ',' && s[j] != ']') j++;
    return j;
}

/* tok_array: an array of plain items as JsonConverter writes it (no
 * blanks), each item the way tok_fast writes it */
static int tok_array(const av_type_t *t, const char *s, size_t n, dp_avro_tok_t *k, dp_buf_t *out) {
    if (n < 2 || s[0] != '[' || s[n - 1] != ']') return -1;
    int64_t count = 0;
    for (size_t i = 1; i < n - 1; count++) { /* count and check first: Avro needs the count */
        size_t e = tok_item_end(s, i, n - 1);
        if (!e || e == i || (e < n - 1 && s[e] != ',')) return -1;
        i = e + 1;
        if (i == n - 1 && s[e] == ',') return -1;
    }
    dp_avro_put_present(t, out);
    if (count) dp_avro_put_long(out, count);
    for (size_t i = 1; i < n - 1;) {
        size_t e = tok_item_end(s, i, n - 1);
        if (e - i == 4 && memcmp(s + i, "null", 4) == 0) {
            if (!t->items->optional) return -1;
            dp_avro_put_long(out, t->items->null_index);
        } else if (tok_fast(t->items, s + i, e - i, k, out)) {
            return -1;
        }
        i = e + 1;
    }
    return dp_buf_putc(out, 0) ? -1 : 0;
}

/* tok_vsd: Debezium's VariableScaleDecimal, {"scale":N,"value":"<base64>"} */
static int tok_vsd(const av_type_t *t, const char *s, size_t n, dp_avro_tok_t *k, dp_buf_t *out) {
    static const char head[] = "{\"scale\":", mid[] = ",\"value\":\"";
    if (t->nfields != 2 || strcmp(t->fields[0].name, "scale") ||
        strcmp(t->fields[1].name, "value") || t->fields[0].type->kind != AVK_INT ||
        t->fields[1].type->kind != AVK_BYTES || t->fields[0].type->optional ||
        t->fields[1].type->optional || n < sizeof head + sizeof mid ||
        memcmp(s, head, sizeof head - 1) || memcmp(s + n - 2, "\"}", 2))
        return -1;
    const char *p = s + sizeof head - 1, *end = s + n - 2;
    const char *m = memchr(p, ',', (size_t)(end - p));
    int64_t scale;
    if (!m || (size_t)(end - m) < sizeof mid - 1 || memcmp(m, mid, sizeof mid - 1) ||
        tok_int(p, (size_t)(m - p), &scale) || scale < t->fields[0].type->min ||
        scale > t->fields[0].type->max)
        return -1;
    const char *b64 = m + sizeof mid - 1;
    dp_buf_reset(&k->scratch);
    if (dp_base64_decode(b64, (size_t)(end - b64), &k->scratch)) return -1;
    dp_avro_put_present(t, out);
    dp_avro_put_long(out, scale);
    dp_avro_put_bytes(out, k->scratch.data, k->scratch.len);
    return 0;
}

/* the plain cases of enc_value, read straight from the token; -1 when the
 * token needs the parser (nested composites, anything unusual) */
static int tok_fast(const av_type_t *t, const char *s, size_t n, dp_avro_tok_t *k, dp_buf_t *out) {
    int64_t v;
    switch (t->kind) {
    case AVK_ARRAY: return tok_array(t, s, n, k, out);
    case AVK_RECORD: return tok_vsd(t, s, n, k, out);
    case AVK_BOOLEAN:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            v = 1;
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            v = 0;
        else
            return -1;
        dp_avro_put_present(t, out);
        dp_buf_putc(out, (char)v);
        return 0; /* overflow: the caller checks out */
    case AVK_INT:
    case AVK_LONG:
        if (tok_int(s, n, &v) || (t->kind == AVK_INT && (v < t->min || v > t->max))) return -1;
        dp_avro_put_present(t, out);
        dp_avro_put_long(out, v);
        return 0;
    case AVK_FLOAT:
    case AVK_DOUBLE: {
        if (n == 0 || n >= 64) return -1;
        char tmp[64], *end;
        double d;
        if (s[0] == '"') {
            if (n < 2 || s[n - 1] != '"' || special_double(s + 1, n - 2, &d)) return -1;
        } else {
            memcpy(tmp, s, n);
            tmp[n] = 0;
            d = strtod(tmp, &end);
            if (*end) return -1;
        }
        dp_avro_put_present(t, out);
        if (t->kind == AVK_FLOAT) {
            float f = (float)d;
            uint32_t u;
            memcpy(&u, &f, 4);
            put_le(out, u, 4);
            return 0;
        }
        uint64_t u;
        memcpy(&u, &d, 8);
        put_le(out, u, 8);
        return 0;
    }
    case AVK_STRING:
        if (n < 2 || s[0] != '"' || s[n - 1] != '"') return -1;
        if (!memchr(s + 1, '\\', n - 2)) {
            dp_avro_put_present(t, out);
            dp_avro_put_bytes(out, s + 1, n - 2);
            return 0;
        }
        dp_buf_reset(&k->scratch); /* escapes (quotes, JSON columns' text) */
        if (dp_json_unescape(s + 1, n - 2, &k->scratch)) return -1;
        dp_avro_put_present(t, out);
        dp_avro_put_bytes(out, k->scratch.data, k->scratch.len);
        return 0;
    case AVK_BYTES:
        if (n < 2 || s[0] != '"' || s[n - 1] != '"') return -1;
        dp_buf_reset(&k->scratch);
        if (dp_base64_decode(s + 1, n - 2, &k->scratch)) return -1;
        dp_avro_put_present(t, out);
        dp_avro_put_bytes(out, k->scratch.data, k->scratch.len);
        return 0;
    default: return -1;
    }
}

dp_err_t dp_avro_put_token(const dp_avro_type_t *t, const char *s, size_t n, dp_avro_tok_t *k,
                           dp_buf_t *out, const char *field, char *errstr, size_t errstr_size) {
    if (n == 4 && memcmp(s, "null", 4) == 0)
        return dp_avro_put_null(t, out, field, errstr, errstr_size);
    size_t mark = out->len;
    if (tok_fast(t, s, n, k, out) == 0) return out->overflow ? DP_ERR_NOMEM : DP_OK;
    out->len = mark; /* what a composite wrote before it gave up */
    /* the general path: the token as a JSON document under enc_value */
    dp_err_t err = dp_json_parse(&k->j, s, n, (uint32_t)(n + 16 < UINT32_MAX ? n + 16 : UINT32_MAX),
                                 errstr, errstr_size);
    if (err) return err;
    enc_t e = {.j = &k->j,
               .out = out,
               .errstr = errstr,
               .errn = errstr_size,
               .field = field,
               .scratch = k->scratch};
    err = enc_value(&e, t, 0, 1);
    k->scratch = e.scratch;
    return err;
}

/* ---- the converter ---- */

typedef struct centry {
    struct centry *next;
    uint64_t hash;
    char *topic;
    char *schema_text; /* the Connect schema JSON, as it came */
    size_t schema_len;
    dp_avro_schema_t *schema;
    int32_t id;
} centry_t;

#define NBUCKETS 256

struct dp_avro_conv {
    int is_key;
    size_t max_bytes, max_schemas, nentries;
    dp_avro_register_fn reg;
    void *reg_ctx;
    centry_t *buckets[NBUCKETS];
    dp_json_t j;
    uint64_t registrations;
    uint64_t generation; /* bumped each time the cache starts over */
};

dp_avro_conv_t *dp_avro_conv_new(int is_key, size_t max_bytes, size_t max_schemas,
                                 dp_avro_register_fn reg, void *reg_ctx) {
    dp_avro_conv_t *cv = dp_xcalloc(1, sizeof *cv);
    cv->is_key = is_key;
    cv->max_bytes = max_bytes;
    cv->max_schemas = max_schemas ? max_schemas : 1;
    cv->reg = reg;
    cv->reg_ctx = reg_ctx;
    return cv;
}

static void cache_clear(dp_avro_conv_t *cv) {
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (centry_t *e = cv->buckets[i], *nx; e; e = nx) {
            nx = e->next;
            free(e->topic);
            free(e->schema_text);
            dp_avro_schema_destroy(e->schema);
            free(e);
        }
        cv->buckets[i] = NULL;
    }
    cv->nentries = 0;
    cv->generation++;
}

void dp_avro_conv_destroy(dp_avro_conv_t *cv) {
    if (!cv) return;
    cache_clear(cv);
    dp_json_fini(&cv->j);
    free(cv);
}

uint64_t dp_avro_conv_registrations(const dp_avro_conv_t *cv) { return cv->registrations; }

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* lookup: the cache entry of (topic, Connect schema text stext[0..slen)),
 * compiled and registered on a miss from node sch of j */
static dp_err_t lookup(dp_avro_conv_t *cv, const char *topic, const dp_json_t *j, uint32_t sch,
                       const char *stext, size_t slen, centry_t **out, char *errstr,
                       size_t errstr_size) {
    uint64_t h = fnv(fnv(0xcbf29ce484222325ULL, topic, strlen(topic) + 1), stext, slen);
    centry_t *e = cv->buckets[h % NBUCKETS];
    for (; e; e = e->next)
        if (e->hash == h && e->schema_len == slen && strcmp(e->topic, topic) == 0 &&
            memcmp(e->schema_text, stext, slen) == 0) {
            *out = e;
            return DP_OK;
        }
    dp_avro_schema_t *s;
    dp_err_t err;
    if ((err = dp_avro_schema_new(j, sch, &s, errstr, errstr_size))) return err;
    char subject[1024];
    snprintf(subject, sizeof subject, "%s-%s", topic, cv->is_key ? "key" : "value");
    size_t alen;
    const char *atext = dp_avro_schema_json(s, &alen);
    int32_t id = 0;
    cv->registrations++;
    if ((err = cv->reg(cv->reg_ctx, subject, atext, alen, &id, errstr, errstr_size))) {
        dp_avro_schema_destroy(s);
        return err;
    }
    if (cv->nentries >= cv->max_schemas) cache_clear(cv);
    e = dp_xcalloc(1, sizeof *e);
    e->hash = h;
    e->topic = dp_xstrdup(topic);
    e->schema_text = dp_xmalloc(slen ? slen : 1);
    memcpy(e->schema_text, stext, slen);
    e->schema_len = slen;
    e->schema = s;
    e->id = id;
    e->next = cv->buckets[h % NBUCKETS];
    cv->buckets[h % NBUCKETS] = e;
    cv->nentries++;
    *out = e;
    return DP_OK;
}

dp_err_t dp_avro_put_header(dp_buf_t *out, int32_t id) {
    uint8_t hdr[5] = {0, (uint8_t)((uint32_t)id >> 24), (uint8_t)((uint32_t)id >> 16),
                      (uint8_t)((uint32_t)id >> 8), (uint8_t)id};
    return dp_buf_append(out, hdr, sizeof hdr);
}

dp_err_t dp_avro_conv_schema(dp_avro_conv_t *cv, const char *topic, const char *schema, size_t len,
                             const dp_avro_schema_t **s, int32_t *id, char *errstr,
                             size_t errstr_size) {
    dp_json_t *j = &cv->j;
    size_t maxn = len + 16 < UINT32_MAX ? len + 16 : UINT32_MAX;
    dp_err_t err = dp_json_parse(j, schema, len, (uint32_t)maxn, errstr, errstr_size);
    centry_t *e = NULL;
    if (!err) err = lookup(cv, topic, j, 0, schema, len, &e, errstr, errstr_size);
    if (err) return err;
    *s = e->schema;
    *id = e->id;
    return DP_OK;
}

uint64_t dp_avro_conv_generation(const dp_avro_conv_t *cv) { return cv->generation; }

dp_err_t dp_avro_conv_run(dp_avro_conv_t *cv, const char *topic, const void *json, size_t len,
                          dp_buf_t *out, char *errstr, size_t errstr_size) {
    dp_json_t *j = &cv->j;
    size_t maxn = len + 16 < UINT32_MAX ? len + 16 : UINT32_MAX;
    dp_err_t err = dp_json_parse(j, json, len, (uint32_t)maxn, errstr, errstr_size);
    if (err) return err;
    uint32_t sch = dp_json_get(j, 0, "schema"), pl = dp_json_get(j, 0, "payload");
    if (!is_type(j, sch, DP_JSON_OBJECT) || !pl)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "avro: the %s of topic \"%s\" has no {\"schema\", \"payload\"} form",
                         cv->is_key ? "key" : "value", topic);
    centry_t *e;
    if ((err = lookup(cv, topic, j, sch, dp_json_raw(j, sch), j->nodes[sch].len, &e, errstr,
                      errstr_size)))
        return err;
    dp_buf_reset(out);
    if ((err = dp_avro_put_header(out, e->id)))
        return dp_seterr(errstr, errstr_size, err, "avro: output bound too small");
    if ((err = dp_avro_encode(e->schema, j, pl, out, errstr, errstr_size))) {
        /* name what failed */
        char detail[512];
        snprintf(detail, sizeof detail, "%s", errstr ? errstr : "");
        dp_seterr(errstr, errstr_size, err, "%s of topic \"%s\": %s", cv->is_key ? "key" : "value",
                  topic, detail);
    }
    return err;
}

/* ---- the way back: Avro schema text -> plan, Avro binary -> JSON ---- */

struct dp_avro_reader {
    av_type_t *root;
};

typedef struct rnamed {
    char *full;
    av_type_t *type; /* owned by the tree; cloned at each reference */
} rnamed_t;

typedef struct rctx {
    const dp_json_t *j;
    rnamed_t *named;
    size_t nnamed;
    char *errstr;
    size_t errn;
} rctx_t;

static av_type_t *type_clone(const av_type_t *t) {
    if (!t) return NULL;
    av_type_t *c = dp_xcalloc(1, sizeof *c);
    *c = *t;
    c->items = type_clone(t->items);
    c->keys = type_clone(t->keys);
    c->fields = t->nfields ? dp_xcalloc(t->nfields, sizeof *c->fields) : NULL;
    for (uint32_t i = 0; i < t->nfields; i++) {
        c->fields[i].name = dp_xstrdup(t->fields[i].name);
        c->fields[i].type = type_clone(t->fields[i].type);
    }
    return c;
}

static int prim_kind(const dp_json_t *j, uint32_t node, avk_t *k) {
    static const struct {
        const char *name;
        avk_t kind;
    } prims[] = {{"boolean", AVK_BOOLEAN}, {"int", AVK_INT},       {"long", AVK_LONG},
                 {"float", AVK_FLOAT},     {"double", AVK_DOUBLE}, {"string", AVK_STRING},
                 {"bytes", AVK_BYTES}};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (dp_json_key_eq(j, node, prims[i].name)) {
            *k = prims[i].kind;
            return 1;
        }
    return 0;
}

/* full_name: Avro's rule: a dotted name is full, else in the namespace */
static char *full_name(const char *name, const char *space) {
    if (strchr(name, '.') || !space || !*space) return dp_xstrdup(name);
    size_t n = strlen(space) + strlen(name) + 2;
    char *f = dp_xmalloc(n);
    snprintf(f, n, "%s.%s", space, name);
    return f;
}

static dp_err_t rparse(rctx_t *x, uint32_t node, const char *space, int depth, av_type_t **out);

static dp_err_t rparse_record(rctx_t *x, uint32_t node, const char *space, int depth,
                              av_type_t *t) {
    const dp_json_t *j = x->j;
    uint32_t nm = dp_json_get(j, node, "name"), ns = dp_json_get(j, node, "namespace");
    uint32_t fields = dp_json_get(j, node, "fields");
    if (!is_type(j, nm, DP_JSON_STRING) || !is_type(j, fields, DP_JSON_ARRAY))
        return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID, "avro: record without name or fields");
    char *name = str_dup(j, nm);
    char *nspace =
        is_type(j, ns, DP_JSON_STRING) ? str_dup(j, ns) : (space ? dp_xstrdup(space) : NULL);
    char *full = full_name(name, nspace);
    /* the fields' namespace is the record's */
    char *dot = strrchr(full, '.');
    char *inner = dot ? dp_xmalloc((size_t)(dot - full) + 1) : NULL;
    if (inner) {
        memcpy(inner, full, (size_t)(dot - full));
        inner[dot - full] = 0;
    }
    t->kind = AVK_RECORD;
    uint32_t nf = j->nodes[fields].count;
    t->fields = nf ? dp_xcalloc(nf, sizeof *t->fields) : NULL;
    dp_err_t err = DP_OK;
    for (uint32_t f = j->nodes[fields].child; f && !err; f = j->nodes[f].next) {
        uint32_t fn = dp_json_get(j, f, "name"), ft = dp_json_get(j, f, "type");
        if (!is_type(j, fn, DP_JSON_STRING) || !ft) {
            err = dp_seterr(x->errstr, x->errn, DP_ERR_INVALID,
                            "avro: field of \"%s\" without name or type", full);
            break;
        }
        av_field_t *af = &t->fields[t->nfields++];
        af->name = str_dup(j, fn);
        err = rparse(x, ft, inner, depth + 1, &af->type);
    }
    if (!err) {
        x->named = dp_xrealloc(x->named, sizeof *x->named * (x->nnamed + 1));
        x->named[x->nnamed].full = full;
        x->named[x->nnamed].type = t;
        x->nnamed++;
        full = NULL;
    }
    free(full);
    free(name);
    free(nspace);
    free(inner);
    return err;
}

static int is_map_entry(const dp_json_t *j, uint32_t items, const av_type_t *it,
                        const char *space) {
    if (it->kind != AVK_RECORD || it->nfields != 2 || strcmp(it->fields[0].name, "key") ||
        strcmp(it->fields[1].name, "value"))
        return 0;
    if (!is_type(j, items, DP_JSON_OBJECT)) return 0;
    uint32_t nm = dp_json_get(j, items, "name"), ns = dp_json_get(j, items, "namespace");
    uint32_t internal = dp_json_get(j, items, "connect.internal.type");
    if (str_eq(j, internal, "MapEntry")) return 1;
    if (str_eq(j, nm, AVRO_NS ".MapEntry")) return 1;
    /* the unnamed map's entries: MapEntry in AvroData's namespace, which
     * may be inherited from the enclosing record */
    return str_eq(j, nm, "MapEntry") &&
        (ns ? str_eq(j, ns, AVRO_NS) : space && strcmp(space, AVRO_NS) == 0);
}

static dp_err_t rparse(rctx_t *x, uint32_t node, const char *space, int depth, av_type_t **out) {
    const dp_json_t *j = x->j;
    *out = dp_xcalloc(1, sizeof **out);
    av_type_t *t = *out;
    if (depth > MAX_DEPTH)
        return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID, "avro: schema nested deeper than %d",
                         MAX_DEPTH);
    const dp_json_node_t *nd = &j->nodes[node];
    if (nd->type == DP_JSON_STRING) {
        if (prim_kind(j, node, &t->kind)) return DP_OK;
        char *name = str_dup(j, node);
        char *full = full_name(name, space);
        const av_type_t *ref = NULL;
        for (size_t i = 0; i < x->nnamed && !ref; i++)
            if (x->named[i].type &&
                (strcmp(x->named[i].full, full) == 0 || strcmp(x->named[i].full, name) == 0))
                ref = x->named[i].type;
        dp_err_t err = ref ? DP_OK
                           : dp_seterr(x->errstr, x->errn, DP_ERR_UNSUPPORTED,
                                       "avro: type \"%s\" unknown or unsupported", name);
        free(name);
        free(full);
        if (ref) {
            free(*out);
            *out = type_clone(ref);
            /* being in a union belongs to where the type was used, not to it */
            (*out)->optional = 0;
            (*out)->null_index = 0;
        }
        return err;
    }
    if (nd->type == DP_JSON_ARRAY) {
        /* a union: of null and one type */
        uint32_t a = nd->child, b = a ? j->nodes[a].next : 0;
        if (nd->count != 2 || !(str_eq(j, a, "null") ^ str_eq(j, b, "null")))
            return dp_seterr(x->errstr, x->errn, DP_ERR_UNSUPPORTED,
                             "avro: only unions of null and one type are supported");
        int null_first = str_eq(j, a, "null");
        free(*out);
        dp_err_t err = rparse(x, null_first ? b : a, space, depth + 1, out);
        (*out)->optional = 1;
        (*out)->null_index = null_first ? 0 : 1;
        return err;
    }
    if (nd->type != DP_JSON_OBJECT)
        return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID,
                         "avro: a schema is a string, array or object");
    uint32_t type = dp_json_get(j, node, "type");
    if (!type)
        return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID,
                         "avro: schema object without \"type\"");
    if (j->nodes[type].type != DP_JSON_STRING) {
        free(*out);
        return rparse(x, type, space, depth + 1, out);
    }
    if (prim_kind(j, type, &t->kind)) {
        if (t->kind == AVK_INT) {
            t->min = INT32_MIN;
            t->max = INT32_MAX;
        }
        return DP_OK;
    }
    if (str_eq(j, type, "record") || str_eq(j, type, "error"))
        return rparse_record(x, node, space, depth, t);
    if (str_eq(j, type, "array")) {
        uint32_t items = dp_json_get(j, node, "items");
        if (!items)
            return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID, "avro: array without items");
        t->kind = AVK_ARRAY;
        dp_err_t err = rparse(x, items, space, depth + 1, &t->items);
        if (!err && !t->items->optional && is_map_entry(j, items, t->items, space)) {
            /* AvroData's map with other than string keys */
            av_type_t *rec = t->items;
            t->kind = AVK_MAP_ENTRIES;
            t->keys = rec->fields[0].type;
            t->items = rec->fields[1].type;
            rec->fields[0].type = rec->fields[1].type = NULL;
            for (size_t i = 0; i < x->nnamed; i++)
                if (x->named[i].type == rec) x->named[i].type = NULL; /* no longer referable */
            type_free(rec);
        }
        return err;
    }
    if (str_eq(j, type, "map")) {
        uint32_t values = dp_json_get(j, node, "values");
        if (!values)
            return dp_seterr(x->errstr, x->errn, DP_ERR_INVALID, "avro: map without values");
        t->kind = AVK_MAP;
        return rparse(x, values, space, depth + 1, &t->items);
    }
    return dp_seterr(x->errstr, x->errn, DP_ERR_UNSUPPORTED, "avro: type %.*s is not supported",
                     (int)j->nodes[type].len + 2, dp_json_raw(j, type) - 1);
}

dp_err_t dp_avro_reader_new(const char *schema, size_t len, dp_avro_reader_t **out, char *errstr,
                            size_t errstr_size) {
    *out = NULL;
    dp_json_t j = {0};
    dp_err_t err = dp_json_parse(&j, schema, len, (uint32_t)(len + 16), errstr, errstr_size);
    if (err) {
        dp_json_fini(&j);
        return err;
    }
    rctx_t x = {.j = &j, .errstr = errstr, .errn = errstr_size};
    dp_avro_reader_t *r = dp_xcalloc(1, sizeof *r);
    err = rparse(&x, 0, NULL, 0, &r->root);
    for (size_t i = 0; i < x.nnamed; i++) free(x.named[i].full);
    free(x.named);
    dp_json_fini(&j);
    if (err) {
        dp_avro_reader_destroy(r);
        return err;
    }
    *out = r;
    return DP_OK;
}

void dp_avro_reader_destroy(dp_avro_reader_t *r) {
    if (!r) return;
    type_free(r->root);
    free(r);
}

/* put_java_float: d as Java's Double.toString (is_float: Float.toString)
 * prints it, from the shortest digits that read back as the same value */
static dp_err_t put_java_float(dp_buf_t *b, double d, int is_float) {
    if (d != d) return dp_buf_puts(b, "\"NaN\"");
    if (isinf(d)) return dp_buf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    if (d == 0) return dp_buf_puts(b, signbit(d) ? "-0.0" : "0.0");
    /* Java 17's FloatingDecimal is not shortest for the smallest subnormals
     * (JDK-4511638), as the capture's JSON path knows too */
    if (!is_float && fabs(d) == 4.9406564584124654e-324)
        return dp_buf_puts(b, d < 0 ? "-4.9E-324" : "4.9E-324");
    if (is_float && fabsf((float)d) == 1.40129846e-45f)
        return dp_buf_puts(b, d < 0 ? "-1.4E-45" : "1.4E-45");
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        double back = strtod(tmp, NULL);
        if (is_float ? (float)back == (float)d : back == d) break;
    }
    /* tmp: [-]D[.DDD]e[+-]XX */
    const char *s = tmp;
    int neg = *s == '-';
    if (neg) s++;
    char digits[32];
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < sizeof digits - 1) digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int e10 = (int)strtol(s + 1, NULL, 10); /* the first digit's power of ten */
    if (neg) dp_buf_putc(b, '-');
    if (e10 >= -3 && e10 < 7) {
        if (e10 < 0) {
            dp_buf_puts(b, "0.");
            for (int i = -1; i > e10; i--) dp_buf_putc(b, '0');
            return dp_buf_append(b, digits, nd);
        }
        size_t ip = (size_t)e10 + 1;
        for (size_t i = 0; i < ip; i++) dp_buf_putc(b, i < nd ? digits[i] : '0');
        dp_buf_putc(b, '.');
        if (nd > ip) return dp_buf_append(b, digits + ip, nd - ip);
        return dp_buf_putc(b, '0');
    }
    dp_buf_putc(b, digits[0]);
    dp_buf_putc(b, '.');
    if (nd > 1)
        dp_buf_append(b, digits + 1, nd - 1);
    else
        dp_buf_putc(b, '0');
    return dp_buf_printf(b, "E%d", e10);
}

typedef struct dec {
    const uint8_t *p;
    size_t n, pos;
    dp_buf_t *out;
    char *errstr;
    size_t errn;
} dec_t;

static dp_err_t dec_err(dec_t *d, const char *what) {
    return dp_seterr(d->errstr, d->errn, DP_ERR_INVALID, "avro: %s at byte %zu", what, d->pos);
}

static dp_err_t dec_len(dec_t *d, size_t *len) {
    int64_t v;
    if (dp_avro_get_long(d->p, d->n, &d->pos, &v)) return dec_err(d, "bad length");
    if (v < 0 || (uint64_t)v > d->n - d->pos) return dec_err(d, "length past the end");
    *len = (size_t)v;
    return DP_OK;
}

static dp_err_t dec_value(dec_t *d, const av_type_t *t, int depth);

/* dec_blocks: the block structure of arrays and maps; item is called
 * count times per block */
static dp_err_t dec_blocks(dec_t *d, const av_type_t *t, int depth) {
    dp_buf_t *b = d->out;
    int first = 1;
    for (;;) {
        int64_t count;
        if (dp_avro_get_long(d->p, d->n, &d->pos, &count)) return dec_err(d, "bad block count");
        if (count == 0) return DP_OK;
        if (count < 0) { /* a negative count is followed by the block's size */
            int64_t size;
            if (dp_avro_get_long(d->p, d->n, &d->pos, &size)) return dec_err(d, "bad block size");
            count = -count;
        }
        if ((uint64_t)count > d->n - d->pos) return dec_err(d, "block count past the end");
        for (int64_t i = 0; i < count; i++) {
            dp_err_t err;
            if (!first) dp_buf_putc(b, ',');
            first = 0;
            if (t->kind == AVK_MAP) {
                size_t l;
                if ((err = dec_len(d, &l))) return err;
                dp_json_put_str(b, (const char *)d->p + d->pos, l);
                d->pos += l;
                dp_buf_putc(b, ':');
                if ((err = dec_value(d, t->items, depth + 1))) return err;
            } else if (t->kind == AVK_MAP_ENTRIES) {
                dp_buf_putc(b, '[');
                if ((err = dec_value(d, t->keys, depth + 1))) return err;
                dp_buf_putc(b, ',');
                if ((err = dec_value(d, t->items, depth + 1))) return err;
                dp_buf_putc(b, ']');
            } else if ((err = dec_value(d, t->items, depth + 1))) {
                return err;
            }
        }
    }
}

static dp_err_t dec_value(dec_t *d, const av_type_t *t, int depth) {
    dp_buf_t *b = d->out;
    if (depth > MAX_DEPTH * 2) return dec_err(d, "value nested too deep");
    if (t->optional) {
        int64_t branch;
        if (dp_avro_get_long(d->p, d->n, &d->pos, &branch) || (branch != 0 && branch != 1))
            return dec_err(d, "bad union branch");
        if (branch == t->null_index) return dp_buf_puts(b, "null");
    }
    dp_err_t err;
    switch (t->kind) {
    case AVK_BOOLEAN:
        if (d->pos >= d->n || d->p[d->pos] > 1) return dec_err(d, "bad boolean");
        return dp_buf_puts(b, d->p[d->pos++] ? "true" : "false");
    case AVK_INT:
    case AVK_LONG: {
        int64_t v;
        if (dp_avro_get_long(d->p, d->n, &d->pos, &v)) return dec_err(d, "bad integer");
        if (t->kind == AVK_INT && (v < INT32_MIN || v > INT32_MAX))
            return dec_err(d, "int out of range");
        return dp_buf_printf(b, "%lld", (long long)v);
    }
    case AVK_FLOAT:
    case AVK_DOUBLE: {
        size_t w = t->kind == AVK_FLOAT ? 4 : 8;
        if (d->n - d->pos < w) return dec_err(d, "float past the end");
        uint64_t u = 0;
        for (size_t i = 0; i < w; i++) u |= (uint64_t)d->p[d->pos + i] << (8 * i);
        d->pos += w;
        if (w == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            return put_java_float(b, f, 1);
        }
        double v;
        memcpy(&v, &u, 8);
        return put_java_float(b, v, 0);
    }
    case AVK_STRING:
    case AVK_BYTES: {
        size_t l;
        if ((err = dec_len(d, &l))) return err;
        const uint8_t *s = d->p + d->pos;
        d->pos += l;
        return t->kind == AVK_STRING ? dp_json_put_str(b, (const char *)s, l)
                                     : dp_json_put_base64(b, s, l);
    }
    case AVK_ARRAY:
    case AVK_MAP_ENTRIES:
        dp_buf_putc(b, '[');
        if ((err = dec_blocks(d, t, depth))) return err;
        return dp_buf_putc(b, ']');
    case AVK_MAP:
        dp_buf_putc(b, '{');
        if ((err = dec_blocks(d, t, depth))) return err;
        return dp_buf_putc(b, '}');
    case AVK_RECORD:
        dp_buf_putc(b, '{');
        for (uint32_t i = 0; i < t->nfields; i++) {
            if (i) dp_buf_putc(b, ',');
            dp_json_put_str(b, t->fields[i].name, strlen(t->fields[i].name));
            dp_buf_putc(b, ':');
            if ((err = dec_value(d, t->fields[i].type, depth + 1))) return err;
        }
        return dp_buf_putc(b, '}');
    }
    return DP_ERR_INVALID;
}

dp_err_t dp_avro_to_json(const dp_avro_reader_t *r, const uint8_t *p, size_t n, dp_buf_t *out,
                         char *errstr, size_t errstr_size) {
    dec_t d = {.p = p, .n = n, .out = out, .errstr = errstr, .errn = errstr_size};
    dp_err_t err = dec_value(&d, r->root, 0);
    if (!err && d.pos != n) err = dec_err(&d, "trailing bytes");
    if (!err && out->overflow)
        err = dp_seterr(errstr, errstr_size, DP_ERR_NOMEM,
                        "avro: decoded value larger than its bound "
                        "(%zu bytes)",
                        out->max);
    return err;
}

typedef struct dentry {
    int32_t id;
    dp_avro_reader_t *r;
} dentry_t;

struct dp_avro_deconv {
    size_t max, n;
    dentry_t *e;
    dp_avro_fetch_fn fetch;
    void *ctx;
    dp_buf_t schema;
};

dp_avro_deconv_t *dp_avro_deconv_new(size_t max_schemas, dp_avro_fetch_fn fetch, void *ctx) {
    dp_avro_deconv_t *d = dp_xcalloc(1, sizeof *d);
    d->max = max_schemas ? max_schemas : 1;
    d->e = dp_xcalloc(d->max, sizeof *d->e);
    d->fetch = fetch;
    d->ctx = ctx;
    dp_buf_init(&d->schema, 16u << 20);
    return d;
}

void dp_avro_deconv_destroy(dp_avro_deconv_t *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) dp_avro_reader_destroy(d->e[i].r);
    free(d->e);
    dp_buf_fini(&d->schema);
    free(d);
}

dp_err_t dp_avro_deconv_reader(dp_avro_deconv_t *d, const void *wire, size_t len,
                               const dp_avro_reader_t **reader, char *errstr, size_t errstr_size) {
    const uint8_t *p = wire;
    if (len < 5 || p[0] != 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "avro: not Confluent's wire format "
                         "(magic byte 0 and a schema id)");
    int32_t id =
        (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
    dentry_t *e = NULL;
    for (size_t i = 0; i < d->n && !e; i++)
        if (d->e[i].id == id) e = &d->e[i];
    if (!e) {
        dp_err_t err = d->fetch(d->ctx, id, &d->schema, errstr, errstr_size);
        if (err) return err;
        dp_avro_reader_t *r;
        if ((err = dp_avro_reader_new((const char *)d->schema.data, d->schema.len, &r, errstr,
                                      errstr_size)))
            return err;
        if (d->n == d->max) { /* full: start over */
            for (size_t i = 0; i < d->n; i++) dp_avro_reader_destroy(d->e[i].r);
            d->n = 0;
        }
        e = &d->e[d->n++];
        e->id = id;
        e->r = r;
    }
    *reader = e->r;
    return DP_OK;
}

dp_err_t dp_avro_deconv_run(dp_avro_deconv_t *d, const void *wire, size_t len, dp_buf_t *out,
                            char *errstr, size_t errstr_size) {
    const dp_avro_reader_t *r;
    dp_buf_reset(out);
    dp_err_t err = dp_avro_deconv_reader(d, wire, len, &r, errstr, errstr_size);
    if (err) return err;
    return dp_avro_to_json(r, (const uint8_t *)wire + 5, len - 5, out, errstr, errstr_size);
}

/* ---- a record's fields, read where they are wanted (the archive's row) ---- */

/* read_scalar: a string or integer value (union branch included) into *v */
static dp_err_t read_scalar(dec_t *d, const av_type_t *t, dp_avro_got_t *v) {
    v->present = 1;
    v->null = 0;
    if (t->optional) {
        int64_t branch;
        if (dp_avro_get_long(d->p, d->n, &d->pos, &branch) || (branch != 0 && branch != 1))
            return dec_err(d, "bad union branch");
        if (branch == t->null_index) {
            v->null = 1;
            return DP_OK;
        }
    }
    if (t->kind == AVK_STRING) {
        size_t l;
        dp_err_t err = dec_len(d, &l);
        if (err) return err;
        v->s = (const char *)d->p + d->pos;
        v->n = l;
        v->kind = DP_AVRO_GOT_STRING;
        d->pos += l;
        return DP_OK;
    }
    if (t->kind == AVK_INT || t->kind == AVK_LONG) {
        if (dp_avro_get_long(d->p, d->n, &d->pos, &v->i)) return dec_err(d, "bad integer");
        v->kind = DP_AVRO_GOT_INT;
        return DP_OK;
    }
    v->kind = DP_AVRO_GOT_OTHER; /* a value of another type: the caller skips it */
    return DP_OK;
}

/* want_of: the index of name (prefix "parent." when parent) in want, or -1 */
static int want_of(const char *const *want, size_t nwant, const char *parent, const char *name) {
    size_t pl = parent ? strlen(parent) : 0;
    for (size_t i = 0; i < nwant; i++) {
        const char *w = want[i];
        if (parent) {
            if (strncmp(w, parent, pl) || w[pl] != '.') continue;
            w += pl + 1;
        } else if (strchr(w, '.')) {
            continue;
        }
        if (!strcmp(w, name)) return (int)i;
    }
    return -1;
}

/* wants_inside: whether some wanted path is inside the field name */
static int wants_inside(const char *const *want, size_t nwant, const char *name) {
    size_t l = strlen(name);
    for (size_t i = 0; i < nwant; i++)
        if (!strncmp(want[i], name, l) && want[i][l] == '.') return 1;
    return 0;
}

/* skip: decode a value into the scratch buffer and forget it */
static dp_err_t skip(dec_t *d, const av_type_t *t, dp_buf_t *scratch, int depth) {
    dp_buf_t *out = d->out;
    dp_buf_reset(scratch);
    d->out = scratch;
    dp_err_t err = dec_value(d, t, depth);
    d->out = out;
    return err;
}

static dp_err_t read_fields(dec_t *d, const av_type_t *t, const char *parent,
                            const char *const *want, size_t nwant, dp_avro_got_t *got,
                            dp_buf_t *scratch, int depth) {
    dp_err_t err = DP_OK;
    for (uint32_t i = 0; i < t->nfields && !err; i++) {
        const av_field_t *f = &t->fields[i];
        int w = want_of(want, nwant, parent, f->name);
        const av_type_t *ft = f->type;
        if (w >= 0 &&
            (ft->kind == AVK_RECORD || ft->kind == AVK_MAP || ft->kind == AVK_ARRAY ||
             ft->kind == AVK_MAP_ENTRIES)) {
            /* a composite value as JsonConverter's text, in d->out */
            size_t at = d->out->len;
            if ((err = dec_value(d, ft, depth + 1))) break;
            got[w].present = 1;
            got[w].kind = DP_AVRO_GOT_JSON;
            got[w].null = d->out->len - at == 4 && !memcmp(d->out->data + at, "null", 4);
            got[w].off = at;
            got[w].n = d->out->len - at;
        } else if (w >= 0) {
            err = read_scalar(d, ft, &got[w]);
            if (!err && got[w].kind == DP_AVRO_GOT_OTHER) err = skip(d, ft, scratch, depth + 1);
        } else if (!parent && ft->kind == AVK_RECORD && wants_inside(want, nwant, f->name)) {
            if (ft->optional) {
                int64_t branch;
                if (dp_avro_get_long(d->p, d->n, &d->pos, &branch) || (branch != 0 && branch != 1))
                    return dec_err(d, "bad union branch");
                if (branch == ft->null_index) continue;
            }
            err = read_fields(d, ft, f->name, want, nwant, got, scratch, depth + 1);
        } else {
            err = skip(d, ft, scratch, depth + 1);
        }
    }
    return err;
}

dp_err_t dp_avro_read_fields(const dp_avro_reader_t *r, const uint8_t *p, size_t n,
                             const char *const *want, size_t nwant, dp_avro_got_t *got,
                             dp_buf_t *json, dp_buf_t *scratch, char *errstr, size_t errstr_size) {
    memset(got, 0, sizeof *got * nwant);
    dp_buf_reset(json);
    dec_t d = {.p = p, .n = n, .out = json, .errstr = errstr, .errn = errstr_size};
    const av_type_t *t = r->root;
    if (t->kind != AVK_RECORD || t->optional)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "avro: the value is not a record");
    dp_err_t err = read_fields(&d, t, NULL, want, nwant, got, scratch, 0);
    if (!err && d.pos != n) err = dec_err(&d, "trailing bytes");
    if (!err && (json->overflow || scratch->overflow))
        err = dp_seterr(errstr, errstr_size, DP_ERR_NOMEM,
                        "avro: decoded value larger than its bound (%zu bytes)", json->max);
    return err;
}
