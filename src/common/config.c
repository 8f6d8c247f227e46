/* config.c - parsing and validation driven by a service's cfg_def_t table. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"

#define CFG_MAX_FILE (4u << 20)
/* a key whose value is still the default sentinel */
#define CFG_UNSET_INT (-0x7fffffffffffffffLL)

#define SVC(f) offsetof(cfg_service_t, f)
/* the keys every service has */
static const cfg_def_t service_defs[] = {
    {"datapipe.log.level", CFG_STRING, SVC(log_level), 0, 0, "info", "error|warn|info|debug", 0,
     NULL, "Log level.", NULL, NULL},
    {"datapipe.metrics.port", CFG_INT, SVC(metrics_port), 0, 65535, "0", NULL, 0, NULL,
     "Port of the HTTP endpoint with GET /metrics (Prometheus text format) and GET /health; "
     "0 = no endpoint.",
     NULL, NULL},
    {"datapipe.metrics.host", CFG_STRING, SVC(metrics_host), 0, 0, "127.0.0.1", NULL, 0, NULL,
     "Address the metrics endpoint binds (0.0.0.0 for every interface).", NULL, NULL},
    {"kafka.", CFG_PREFIX, SVC(kafka), 0, 0, NULL, NULL, 0, NULL,
     "Passed to librdkafka without the prefix, e.g. kafka.bootstrap.servers (required).", NULL,
     NULL},
    {"key.converter.schema.registry.ssl.ca.location", CFG_STRING, SVC(key_registry.ca_location), 0,
     0, NULL, NULL, 0, NULL,
     "PEM file of the CA certificates that sign an https schema registry's certificate "
     "(AvroConverter, key side); unset = the system's CAs.",
     NULL, NULL},
    {"key.converter.basic.auth.credentials.source", CFG_STRING, SVC(key_registry.auth_source), 0, 0,
     "URL", "URL|USER_INFO", 0, NULL,
     "Where the key converter's registry credentials come from: URL (user:password@ in the "
     "url, or none) or USER_INFO (key.converter.basic.auth.user.info).",
     NULL, NULL},
    {"key.converter.basic.auth.user.info", CFG_STRING, SVC(key_registry.user_info), 0, 0, NULL,
     NULL, CFG_F_SECRET, NULL, "user:password for the key converter's registry (HTTP basic auth).",
     NULL, NULL},
    {"value.converter.schema.registry.ssl.ca.location", CFG_STRING, SVC(value_registry.ca_location),
     0, 0, NULL, NULL, 0, NULL,
     "PEM file of the CA certificates that sign an https schema registry's certificate "
     "(AvroConverter, value side); unset = the system's CAs.",
     NULL, NULL},
    {"value.converter.basic.auth.credentials.source", CFG_STRING, SVC(value_registry.auth_source),
     0, 0, "URL", "URL|USER_INFO", 0, NULL,
     "Where the value converter's registry credentials come from: URL (user:password@ in the "
     "url, or none) or USER_INFO (value.converter.basic.auth.user.info).",
     NULL, NULL},
    {"value.converter.basic.auth.user.info", CFG_STRING, SVC(value_registry.user_info), 0, 0, NULL,
     NULL, CFG_F_SECRET, NULL,
     "user:password for the value converter's registry (HTTP basic auth).", NULL, NULL},
};
#define NSERVICE (sizeof service_defs / sizeof service_defs[0])

/* def_count, def_at: every key of t, its own then the shared ones, and
 * where in the settings its offset counts from */
static size_t def_count(const cfg_table_t *t) { return t->ndefs + NSERVICE; }

static const cfg_def_t *def_at(const cfg_table_t *t, size_t i, size_t *base) {
    if (i < t->ndefs) {
        *base = 0;
        return &t->defs[i];
    }
    *base = t->service_offset;
    return &service_defs[i - t->ndefs];
}

static const cfg_def_t *find_def(const cfg_table_t *t, const char *key, size_t *plen,
                                 size_t *base) {
    for (size_t i = 0; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, base);
        if (d->type == CFG_PREFIX) {
            size_t l = strlen(d->name);
            if (strncmp(key, d->name, l) == 0 && key[l]) {
                if (plen) *plen = l;
                return d;
            }
        } else if (strcmp(d->name, key) == 0) {
            return d;
        }
    }
    return NULL;
}

const cfg_enum_t cfg_converters[] = {
    {CFG_JSON_CONVERTER, CFG_CONVERTER_JSON}, {CFG_AVRO_CONVERTER, CFG_CONVERTER_AVRO}, {NULL, 0}};

dp_err_t cfg_check_converter(const char *side, int converter, const char *registry_url,
                             char *errstr, size_t n) {
    if (converter != CFG_CONVERTER_AVRO || (registry_url && *registry_url)) return DP_OK;
    return dp_seterr(errstr, n, DP_ERR_CONFIG,
                     "\"%s.converter\" AvroConverter needs \"%s.converter.schema.registry.url\"",
                     side, side);
}

/* enum_index: position of value in "a|b|c", or -1. */
static int enum_index(const char *enums, const char *value) {
    int i = 0;
    size_t vl = strlen(value);
    for (const char *p = enums; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && strncasecmp(p, value, l) == 0) return i;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

/* map_find: the entry of map named name (any case), or NULL */
static const cfg_enum_t *map_find(const cfg_enum_t *map, const char *name) {
    for (; map && map->name; map++)
        if (strcasecmp(map->name, name) == 0) return map;
    return NULL;
}

/* choices: the names a key accepts, "a|b|c" (from its map or its set) */
static const char *choices(const cfg_def_t *d, char *buf, size_t n) {
    if (!d->map) return d->enums ? d->enums : "";
    size_t used = 0;
    buf[0] = 0;
    for (const cfg_enum_t *m = d->map; m->name && used < n; m++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", m == d->map ? "" : "|", m->name);
    return buf;
}

const char *cfg_enum_name(const cfg_table_t *t, const char *name, int v) {
    size_t base;
    const cfg_def_t *d = find_def(t, name, NULL, &base);
    for (const cfg_enum_t *m = d ? d->map : NULL; m && m->name; m++)
        if (m->value == v) return m->name;
    return "";
}

static void kv_add(cfg_kv_t *kv, const char *key, const char *value) {
    for (size_t i = 0; i < kv->n; i++) {
        if (strcmp(kv->keys[i], key) == 0) {
            free(kv->values[i]);
            kv->values[i] = dp_xstrdup(value);
            return;
        }
    }
    kv->keys = dp_xrealloc(kv->keys, sizeof(char *) * (kv->n + 1));
    kv->values = dp_xrealloc(kv->values, sizeof(char *) * (kv->n + 1));
    kv->keys[kv->n] = dp_xstrdup(key);
    kv->values[kv->n] = dp_xstrdup(value);
    kv->n++;
}

const char *cfg_kv_get(const cfg_kv_t *kv, const char *key) {
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->keys[i], key) == 0) return kv->values[i];
    return NULL;
}

/* set_def: key = value; errors quote shown, which is value itself or the
 * reference it was resolved from */
static dp_err_t set_def(const cfg_def_t *d, void *settings, const char *key, const char *value,
                        const char *shown, size_t prefix_len, char *errstr, size_t errstr_size) {
    char *base = settings;
    char names[512];
    switch (d->type) {
    case CFG_STRING: {
        if (d->enums && enum_index(d->enums, value) < 0)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "invalid value \"%s\" for \"%s\": expected one of %s", shown, key,
                             d->enums);
        char why[512];
        if (d->check && d->check(value, why, sizeof why))
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "invalid value \"%s\" for \"%s\": %s", shown, key, why);
        char **slot = (char **)(base + d->offset);
        free(*slot);
        *slot = dp_xstrdup(value);
        return DP_OK;
    }
    case CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        while (*end && isspace((unsigned char)*end)) end++;
        if (errno || end == value || *end)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "invalid value \"%s\" for \"%s\": expected an integer", shown, key);
        if (v < d->min || v > d->max)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "value \"%s\" for \"%s\" out of range [%lld, %lld]", shown, key,
                             d->min, d->max);
        *(long long *)(base + d->offset) = v;
        return DP_OK;
    }
    case CFG_BOOL: {
        int v;
        if (strcasecmp(value, "true") == 0)
            v = 1;
        else if (strcasecmp(value, "false") == 0)
            v = 0;
        else
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "invalid value \"%s\" for \"%s\": expected true or false", shown, key);
        *(int *)(base + d->offset) = v;
        return DP_OK;
    }
    case CFG_ENUM: {
        const cfg_enum_t *m = map_find(d->map, value);
        if (!m)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "invalid value \"%s\" for \"%s\": expected one of %s", shown, key,
                             choices(d, names, sizeof names));
        *(int *)(base + d->offset) = m->value;
        return DP_OK;
    }
    case CFG_PREFIX: kv_add((cfg_kv_t *)(base + d->offset), key + prefix_len, value); return DP_OK;
    }
    return DP_ERR_CONFIG;
}

static dp_err_t set_shown(const cfg_table_t *t, void *settings, const char *key, const char *value,
                          const char *shown, char *errstr, size_t errstr_size) {
    size_t plen = 0, base;
    const cfg_def_t *d = find_def(t, key, &plen, &base);
    if (!d)
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "unknown configuration key \"%s\" for %s", key, t->service);
    if (d->flags & CFG_F_DEPRECATED) {
        dp_warn("config", "\"%s\" is deprecated, use \"%s\"", key, d->alias_of);
        const cfg_def_t *a = find_def(t, d->alias_of, NULL, &base);
        if (!a) return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "bad alias for \"%s\"", key);
        return set_def(a, (char *)settings + base, key, value, shown, 0, errstr, errstr_size);
    }
    return set_def(d, (char *)settings + base, key, value, shown, plen, errstr, errstr_size);
}

dp_err_t cfg_set(const cfg_table_t *t, void *settings, const char *key, const char *value,
                 char *errstr, size_t errstr_size) {
    return set_shown(t, settings, key, value, value, errstr, errstr_size);
}

dp_err_t cfg_defaults(const cfg_table_t *t, void *settings, char *errstr, size_t errstr_size) {
    for (size_t i = 0, base; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, &base);
        char *s = (char *)settings + base;
        if (d->type == CFG_PREFIX || (d->flags & CFG_F_DEPRECATED)) continue;
        if (d->type == CFG_INT) *(long long *)(s + d->offset) = CFG_UNSET_INT;
        if (!d->def) continue;
        dp_err_t err = set_def(d, s, d->name, d->def, d->def, 0, errstr, errstr_size);
        if (err) return err;
    }
    return DP_OK;
}

dp_err_t cfg_finish(const cfg_table_t *t, void *settings, char *errstr, size_t errstr_size) {
    for (size_t i = 0, base; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, &base);
        if (!(d->flags & CFG_F_REQUIRED)) continue;
        const char *s = (const char *)settings + base;
        int missing = 0;
        if (d->type == CFG_STRING) missing = *(char *const *)(s + d->offset) == NULL;
        if (d->type == CFG_INT) missing = *(const long long *)(s + d->offset) == CFG_UNSET_INT;
        if (missing)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "missing required configuration key \"%s\" for %s", d->name,
                             t->service);
    }
    const cfg_service_t *svc = (const cfg_service_t *)((const char *)settings + t->service_offset);
    if (!cfg_kv_get(&svc->kafka, "bootstrap.servers"))
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "missing required configuration key \"kafka.bootstrap.servers\" for %s",
                         t->service);
    return t->finalize ? t->finalize(settings, errstr, errstr_size) : DP_OK;
}

void cfg_free(const cfg_table_t *t, void *settings) {
    for (size_t i = 0, off; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, &off);
        char *base = (char *)settings + off;
        if (d->flags & CFG_F_DEPRECATED) continue; /* an alias owns nothing */
        if (d->type == CFG_STRING) {
            char **slot = (char **)(base + d->offset);
            free(*slot);
            *slot = NULL;
        } else if (d->type == CFG_PREFIX) {
            cfg_kv_t *kv = (cfg_kv_t *)(base + d->offset);
            for (size_t k = 0; k < kv->n; k++) {
                free(kv->keys[k]);
                free(kv->values[k]);
            }
            free(kv->keys);
            free(kv->values);
            memset(kv, 0, sizeof *kv);
        }
    }
}

/* read_file: whole file into a new NUL-terminated buffer, bounded. */
static dp_err_t read_file(const char *path, char **out, size_t *len, char *errstr,
                          size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "cannot open \"%s\": %s", path,
                         strerror(errno));
    dp_buf_t b;
    dp_buf_init(&b, CFG_MAX_FILE);
    char tmp[8192];
    size_t n;
    dp_err_t err = DP_OK;
    while (!err && (n = fread(tmp, 1, sizeof tmp, f)) > 0) err = dp_buf_append(&b, tmp, n);
    int rerr = ferror(f);
    fclose(f);
    if (err || rerr) {
        dp_buf_fini(&b);
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "cannot read \"%s\"%s", path,
                         err ? ": larger than 4 MiB" : "");
    }
    dp_buf_cstr(&b);
    *out = (char *)b.data;
    *len = b.len;
    if (!b.data) *out = dp_xstrdup("");
    return DP_OK;
}

static void trim(char **s, char **e) {
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* props_line: split the .properties line [s, e) into trimmed key and
 * value spans: 1 for key=value (or key: value), 0 for a blank or comment
 * ('#', '!') line, -1 for a line without a separator. */
static int props_line(char *s, char *e, char **ks, char **ke, char **vs, char **ve) {
    trim(&s, &e);
    if (s == e || *s == '#' || *s == '!') return 0;
    char *sep = s;
    while (sep < e && *sep != '=' && *sep != ':') sep++;
    if (sep == e) return -1;
    *ks = s;
    *ke = sep;
    *vs = sep + 1;
    *ve = e;
    trim(ks, ke);
    trim(vs, ve);
    return 1;
}

/* props_lookup: value of key in a .properties text (first match), new
 * string or NULL. */
static char *props_lookup(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        char *ks, *ke, *vs, *ve;
        if (props_line((char *)p, (char *)eol, &ks, &ke, &vs, &ve) == 1 &&
            (size_t)(ke - ks) == kl && memcmp(ks, key, kl) == 0)
            return strndup(vs, (size_t)(ve - vs));
        p = *eol ? eol + 1 : eol;
    }
    return NULL;
}

dp_err_t cfg_resolve_refs(const char *value, char **out, char *errstr, size_t errstr_size) {
    *out = NULL;
    dp_buf_t b;
    dp_buf_init(&b, CFG_MAX_FILE);
    const char *p = value;
    dp_err_t err = DP_OK;
    while (!err && *p) {
        const char *ref = strstr(p, "${");
        if (!ref) {
            err = dp_buf_puts(&b, p);
            break;
        }
        const char *close = strchr(ref, '}');
        if ((strncmp(ref + 2, "file:", 5) != 0 && strncmp(ref + 2, "env:", 4) != 0) || !close) {
            /* not a provider reference: keep literally */
            err = dp_buf_append(&b, p, (size_t)(ref - p) + 2);
            p = ref + 2;
            continue;
        }
        if ((err = dp_buf_append(&b, p, (size_t)(ref - p)))) break;
        char inner[4096];
        size_t il = (size_t)(close - ref - 2);
        if (il >= sizeof inner) {
            err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "reference too long");
            break;
        }
        memcpy(inner, ref + 2, il);
        inner[il] = 0;
        if (strncmp(inner, "env:", 4) == 0) {
            const char *v = getenv(inner + 4);
            if (!v) {
                err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                                "environment variable \"%s\" referenced by ${%s} is not set",
                                inner + 4, inner);
                break;
            }
            err = dp_buf_puts(&b, v);
        } else {
            /* file:/path:key - the key is after the last ':' */
            char *path = inner + 5, *colon = strrchr(path, ':');
            if (!colon || colon == path) {
                err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                                "bad reference ${%s}: expected ${file:/path:key}", inner);
                break;
            }
            *colon = 0;
            char *text;
            size_t tl;
            if (read_file(path, &text, &tl, errstr, errstr_size)) {
                err = DP_ERR_CONFIG;
                break;
            }
            char *v = props_lookup(text, colon + 1);
            free(text);
            if (!v) {
                err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                                "key \"%s\" not found in \"%s\"", colon + 1, path);
                break;
            }
            err = dp_buf_puts(&b, v);
            free(v);
        }
        p = close + 1;
    }
    if (err) {
        dp_buf_fini(&b);
        return err;
    }
    *out = dp_xstrdup(b.data ? dp_buf_cstr(&b) : "");
    dp_buf_fini(&b);
    return DP_OK;
}

dp_err_t cfg_set_ref(const cfg_table_t *t, void *settings, const char *key, const char *raw,
                     const char *origin, char *errstr, size_t errstr_size) {
    char *v;
    dp_err_t err = cfg_resolve_refs(raw, &v, errstr, errstr_size);
    if (!err) err = set_shown(t, settings, key, v, raw, errstr, errstr_size);
    free(v);
    if (err && errstr && errstr_size) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", errstr);
        snprintf(errstr, errstr_size, "%s: %s", origin, tmp);
    }
    return err;
}

static dp_err_t load_json(const cfg_table_t *t, void *settings, const char *text, size_t len,
                          const char *origin, char *errstr, size_t errstr_size) {
    dp_json_t j = {0};
    dp_buf_t key, val;
    dp_buf_init(&key, 4096);
    dp_buf_init(&val, CFG_MAX_FILE);
    char jerr[256];
    dp_err_t err = dp_json_parse(&j, text, len, 1 << 16, jerr, sizeof jerr);
    if (err) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "%s: %s", origin, jerr);
        goto done;
    }
    uint32_t obj = 0;
    if (j.nodes[0].type != DP_JSON_OBJECT) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "%s: expected a JSON object", origin);
        goto done;
    }
    uint32_t inner = dp_json_get(&j, 0, "config");
    if (inner) {
        /* Kafka Connect REST form: {"name": ..., "config": {...}} */
        if (j.nodes[inner].type != DP_JSON_OBJECT) {
            err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "%s: \"config\" must be an object",
                            origin);
            goto done;
        }
        for (uint32_t k = j.nodes[0].child; k; k = j.nodes[j.nodes[k].next].next) {
            if (dp_json_key_eq(&j, k, "config")) continue;
            if (!dp_json_key_eq(&j, k, "name")) {
                dp_json_str(&j, k, &key);
                err =
                    dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                              "%s: unknown top-level key \"%s\" (expected \"name\" and \"config\")",
                              origin, dp_buf_cstr(&key));
                goto done;
            }
            uint32_t v = j.nodes[k].next;
            size_t base;
            if (j.nodes[v].type == DP_JSON_STRING && find_def(t, "name", NULL, &base)) {
                dp_json_str(&j, v, &val);
                if ((err = cfg_set_ref(t, settings, "name", dp_buf_cstr(&val), origin, errstr,
                                       errstr_size)))
                    goto done;
            }
        }
        obj = inner;
    }
    for (uint32_t k = j.nodes[obj].child; k; k = j.nodes[j.nodes[k].next].next) {
        uint32_t v = j.nodes[k].next;
        dp_json_str(&j, k, &key);
        const char *kname = dp_buf_cstr(&key);
        switch (j.nodes[v].type) {
        case DP_JSON_STRING: dp_json_str(&j, v, &val); break;
        case DP_JSON_NUMBER:
        case DP_JSON_TRUE:
        case DP_JSON_FALSE:
            dp_buf_reset(&val);
            dp_buf_append(&val, dp_json_raw(&j, v), j.nodes[v].len);
            break;
        default:
            err =
                dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                          "%s: value of \"%s\" must be a string, number or boolean", origin, kname);
            goto done;
        }
        if ((err = cfg_set_ref(t, settings, kname, dp_buf_cstr(&val), origin, errstr, errstr_size)))
            goto done;
    }
done:
    dp_json_fini(&j);
    dp_buf_fini(&key);
    dp_buf_fini(&val);
    return err;
}

static dp_err_t load_properties(const cfg_table_t *t, void *settings, const char *text,
                                const char *origin, char *errstr, size_t errstr_size) {
    int lineno = 0;
    for (const char *p = text; *p;) {
        lineno++;
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        char *ks, *ke, *vs, *ve;
        int kind = props_line((char *)p, (char *)eol, &ks, &ke, &vs, &ve);
        if (kind < 0)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "%s:%d: expected key=value",
                             origin, lineno);
        if (kind > 0) {
            char *key = strndup(ks, (size_t)(ke - ks)), *val = strndup(vs, (size_t)(ve - vs));
            if (!key || !val) abort();
            char where[600];
            snprintf(where, sizeof where, "%s:%d", origin, lineno);
            dp_err_t err = cfg_set_ref(t, settings, key, val, where, errstr, errstr_size);
            free(key);
            free(val);
            if (err) return err;
        }
        p = *eol ? eol + 1 : eol;
    }
    return DP_OK;
}

dp_err_t cfg_load_text(const cfg_table_t *t, void *settings, const char *text, size_t len,
                       const char *origin, char *errstr, size_t errstr_size) {
    dp_err_t err = cfg_defaults(t, settings, errstr, errstr_size);
    if (err) return err;
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i])) i++;
    if (memchr(text, 0, len))
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "%s: contains a NUL byte", origin);
    if (i < len && text[i] == '{')
        return load_json(t, settings, text, len, origin, errstr, errstr_size);
    /* properties loader wants a NUL-terminated text */
    char *copy = dp_xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = 0;
    err = load_properties(t, settings, copy, origin, errstr, errstr_size);
    free(copy);
    return err;
}

dp_err_t cfg_load(const cfg_table_t *t, void *settings, const char *path, char *errstr,
                  size_t errstr_size) {
    char *text;
    size_t len;
    dp_err_t err = read_file(path, &text, &len, errstr, errstr_size);
    if (err) return DP_ERR_CONFIG;
    err = cfg_load_text(t, settings, text, len, path, errstr, errstr_size);
    free(text);
    return err;
}

static const char *type_name(const cfg_def_t *d) {
    switch (d->type) {
    case CFG_STRING: return "string";
    case CFG_INT: return "integer";
    case CFG_BOOL: return "boolean";
    case CFG_ENUM: return "enum";
    case CFG_PREFIX: return "prefix";
    }
    return "?";
}

void cfg_print_help(const cfg_table_t *t, FILE *out) {
    fprintf(out, "%s configuration keys:\n", t->service);
    for (size_t i = 0, base; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, &base);
        fprintf(out, "  %-42s %-8s %s%s%s%s\n", d->type == CFG_PREFIX ? "" : d->name, type_name(d),
                d->doc, d->def ? " (default: " : "", d->def ? d->def : "", d->def ? ")" : "");
        if (d->type == CFG_PREFIX) fprintf(out, "  %s*\n", d->name);
    }
}

void cfg_print_markdown(const cfg_table_t *t, FILE *out) {
    fprintf(out, "## %s\n\n| key | type | default | description |\n|---|---|---|---|\n",
            t->service);
    for (size_t i = 0, base; i < def_count(t); i++) {
        const cfg_def_t *d = def_at(t, i, &base);
        char names[512];
        const char *one_of = d->map || d->enums ? choices(d, names, sizeof names) : NULL;
        char range[96] = "";
        if (d->type == CFG_INT) snprintf(range, sizeof range, " [%lld..%lld]", d->min, d->max);
        fprintf(out, "| `%s%s` | %s%s | %s%s%s | %s%s%s%s%s |\n", d->name,
                d->type == CFG_PREFIX ? "*" : "", type_name(d), range, d->def ? "`" : "",
                d->def ? d->def : (d->flags & CFG_F_REQUIRED ? "required" : ""), d->def ? "`" : "",
                d->doc, one_of ? " One of: `" : "", one_of ? one_of : "", one_of ? "`." : "",
                d->alias_of ? " Deprecated alias." : "");
    }
    fputc('\n', out);
}

static void cli_usage(const char *command, const cfg_table_t *t, FILE *out) {
    fprintf(out,
            "usage: datapipe %s --config FILE [--set KEY=VALUE]... [--check]\n"
            "       datapipe %s --help\n\n"
            "--check: read and validate the configuration (references resolved), then exit\n\n",
            command, command);
    cfg_print_help(t, out);
}

int cfg_load_cli(const cfg_table_t *t, void *settings, int argc, char **argv) {
    return cfg_load_cli_named(t, t->service, settings, argc, argv);
}

int cfg_load_cli_named(const cfg_table_t *t, const char *command, void *settings, int argc,
                       char **argv) {
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"check", no_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int o, check = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        if (o == 'c')
            config = optarg;
        else if (o == 'k')
            check = 1;
        else if (o == 'h') {
            cli_usage(command, t, stdout);
            return -1;
        } else if (o != 's') {
            cli_usage(command, t, stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        cli_usage(command, t, stderr);
        return 2;
    }
    char errstr[1024] = "";
    dp_err_t err = cfg_load(t, settings, config, errstr, sizeof errstr);
    /* second pass: --set overrides the file, in order */
    optind = 1;
    while (!err && (o = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        if (o != 's') continue;
        char *eq = strchr(optarg, '=');
        if (!eq) {
            err = dp_seterr(errstr, sizeof errstr, DP_ERR_CONFIG,
                            "--set \"%s\": expected KEY=VALUE", optarg);
            break;
        }
        *eq = 0;
        err = cfg_set_ref(t, settings, optarg, eq + 1, "--set", errstr, sizeof errstr);
        *eq = '=';
    }
    if (!err) err = cfg_finish(t, settings, errstr, sizeof errstr);
    if (err) {
        dp_error(t->service, "%s", errstr);
        return 2;
    }
    if (check) {
        printf("datapipe %s: configuration %s is valid\n", command, config);
        return -1;
    }
    return 0;
}
