/* test_answers.c - the parsers of outside answers that the fuzz targets
 * cover, on the inputs their callers meet: an S3 ListObjectsV2 page and
 * <Error> document, an AWS credentials file, the schema registry's JSON
 * answers and the stored capture position. */
#include <stdint.h>
#include <string.h>

#include "capture/position.h"
#include "common/buf.h"
#include "common/registry.h"
#include "s3/client.h"
#include "s3/credentials.h"
#include "testlib.h"

typedef struct keys {
    char all[256];
    uint64_t total;
} keys_t;

static dp_err_t on_key(void *ctx, const char *key, uint64_t size) {
    keys_t *k = ctx;
    size_t used = strlen(k->all);
    snprintf(k->all + used, sizeof k->all - used, "%s|", key);
    k->total += size;
    return strcmp(key, "stop") == 0 ? DP_ERR_FULL : DP_OK;
}

static dp_err_t list(const char *doc, keys_t *k, dp_buf_t *token, int *truncated, int *stopped) {
    dp_buf_t key;
    dp_buf_init(&key, 4096);
    memset(k, 0, sizeof *k);
    dp_err_t err = s3_list_parse(doc, strlen(doc), on_key, k, &key, token, truncated, stopped);
    dp_buf_fini(&key);
    dp_buf_cstr(token);
    return err;
}

static void test_s3_list(void) {
    keys_t k;
    dp_buf_t token;
    dp_buf_init(&token, 64);
    int tr, st;
    CHECK_EQ_INT(list("<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b"
                      "</Key><Size>3</Size></Contents><Contents><Key>c</Key><Size>4</Size>"
                      "</Contents><NextContinuationToken>t&lt;1</NextContinuationToken>"
                      "</ListBucketResult>",
                      &k, &token, &tr, &st),
                 DP_OK);
    CHECK_EQ_STR(k.all, "a&b|c|");
    CHECK_EQ_INT(k.total, 7);
    CHECK_EQ_INT(tr, 1);
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_STR((const char *)token.data, "t<1");
    CHECK_EQ_INT(list("<IsTruncated>false</IsTruncated><NextContinuationToken>x"
                      "</NextContinuationToken>",
                      &k, &token, &tr, &st),
                 DP_OK);
    CHECK_EQ_INT(tr, 0);
    CHECK_EQ_INT(token.len, 0);
    CHECK_EQ_INT(list("<IsTruncated>true</IsTruncated><NextContinuationToken>&bad;"
                      "</NextContinuationToken>",
                      &k, &token, &tr, &st),
                 DP_OK);
    CHECK_EQ_INT(tr, 1);
    CHECK_EQ_INT(token.len, 0); /* unreadable: the caller reports a missing token */
    CHECK_EQ_INT(list("<Contents><Key>a</Key></Contents>", &k, &token, &tr, &st), DP_ERR_PROTO);
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_INT(list("<Contents><Key>stop</Key><Size>1</Size></Contents><Contents><Key>b</Key>"
                      "<Size>1</Size></Contents>",
                      &k, &token, &tr, &st),
                 DP_ERR_FULL);
    CHECK_EQ_INT(st, 1);
    CHECK_EQ_STR(k.all, "stop|");
    dp_buf_fini(&token);
}

static void test_s3_error(void) {
    char code[16], msg[64];
    const char *doc = "<Error><Code>NoSuchKey</Code><Message>The key &quot;k&quot; does not "
                      "exist. \n</Message></Error>";
    s3_parse_error_body(doc, strlen(doc), code, sizeof code, msg, sizeof msg);
    CHECK_EQ_STR(code, "NoSuchKey");
    CHECK_EQ_STR(msg, "The key \"k\" does not exist");
    s3_parse_error_body(doc, strlen(doc), code, 3, msg, 1);
    CHECK_EQ_STR(code, "No");
    CHECK_EQ_STR(msg, "");
    s3_parse_error_body("<html>502</html>", 16, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_STR(code, "");
    CHECK_EQ_STR(msg, "");
}

static void test_credentials_file(void) {
    char text[] = "[default]\naws_access_key_id = D\n\n[profile prod]\r\n# c\n"
                  "aws_access_key_id = AKIA \r\naws_secret_access_key=s=x\naws_session_token=\n"
                  "[other]\naws_secret_access_key = no\n";
    s3_credentials_t s;
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(s3_credentials_parse_profile(text, "prod", &s), 1);
    CHECK_EQ_STR(s.access_key, "AKIA");
    CHECK_EQ_STR(s.secret_key, "s=x");
    CHECK(s.session_token == NULL);
    s3_credentials_fini(&s);
    char none[] = "[defaults]\naws_access_key_id = x\n";
    CHECK_EQ_INT(s3_credentials_parse_profile(none, "default", &s), 0);
    CHECK(s.access_key == NULL);
}

static void test_registry(void) {
    int32_t id = -1;
    CHECK_EQ_INT(dp_registry_parse_id("{\"id\": 42}", 10, &id), 0);
    CHECK_EQ_INT(id, 42);
    CHECK_EQ_INT(dp_registry_parse_id("{\"id\":2147483648}", 17, &id), -1);
    CHECK_EQ_INT(dp_registry_parse_id("{\"id\":\"7\"}", 10, &id), -1);
    CHECK_EQ_INT(id, 42);
    dp_buf_t out;
    dp_buf_init(&out, 64);
    const char *s = "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}";
    CHECK_EQ_INT(dp_registry_parse_schema(s, strlen(s), &out), DP_OK);
    CHECK_EQ_STR((const char *)out.data, "{\"type\":\"string\"}");
    CHECK_EQ_INT(dp_registry_parse_schema("{\"schema\":1}", 12, &out), DP_ERR_PROTO);
    long long code = 0;
    const char *e = "{\"error_code\":40403,\"message\":\"Schema not found\"}";
    dp_registry_parse_error(e, strlen(e), &code, &out);
    CHECK_EQ_INT(code, 40403);
    CHECK_EQ_MEM(out.data, out.len, "Schema not found", 16);
    dp_registry_parse_error("oops", 4, &code, &out);
    CHECK_EQ_INT(code, 0);
    CHECK_EQ_INT(out.len, 0);
    dp_buf_fini(&out);
}

static int pos(const char *v, capture_eos_pos_t *p) {
    return capture_position_parse(v, strlen(v), p);
}

static void test_position(void) {
    /* the writer's records, read back by the parser */
    const capture_eos_pos_t ws[] = {
        {24023128, 17, 0, 1, 0}, {UINT64_C(9223372036854775807), 0, 1, 1, 1}, {0, 0, 1, 1, 0}};
    dp_buf_t w;
    dp_buf_init(&w, 160);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        capture_eos_pos_t r = {0};
        CHECK_EQ_INT(capture_position_write(&ws[i], &w), DP_OK);
        CHECK_EQ_INT(capture_position_parse((const char *)w.data, w.len, &r), 1);
        CHECK(r.lsn_commit == ws[i].lsn_commit && r.records == ws[i].records &&
              r.complete == ws[i].complete && r.snapshot == ws[i].snapshot && r.valid);
    }
    CHECK_EQ_INT(capture_position_write(&ws[0], &w), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&w), "{\"lsn_commit\":24023128,\"records\":17,\"complete\":false}");
    CHECK_EQ_INT(capture_position_write(&ws[1], &w), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&w),
                 "{\"lsn_commit\":9223372036854775807,\"records\":0,"
                 "\"complete\":true,\"snapshot\":true}");
    dp_buf_fini(&w);
    capture_eos_pos_t p = {0};
    CHECK_EQ_INT(pos("{\"lsn_commit\":24023128,\"records\":17,\"complete\":false}", &p), 1);
    CHECK(p.lsn_commit == 24023128 && p.records == 17 && !p.complete && !p.snapshot && p.valid);
    CHECK_EQ_INT(pos("{\"complete\":true,\"snapshot\":true,\"records\":0,\"lsn_commit\":0}", &p),
                 1);
    CHECK(p.lsn_commit == 0 && p.records == 0 && p.complete && p.snapshot && p.valid);
    p.records = 99;
    CHECK_EQ_INT(pos("{\"lsn_commit\":-1,\"records\":1,\"complete\":true}", &p), 0);
    CHECK_EQ_INT(pos("{\"lsn_commit\":1,\"records\":1,\"complete\":1}", &p), 0);
    CHECK_EQ_INT(pos("{\"lsn_commit\":1,\"records\":1,\"complete\":true,\"snapshot\":0}", &p), 0);
    CHECK_EQ_INT(pos("{\"lsn_commit\":1.5,\"records\":1,\"complete\":true}", &p), 0);
    CHECK_EQ_INT(pos("[1]", &p), 0);
    CHECK_EQ_INT(p.records, 99); /* untouched by a refused record */
}

int main(void) {
    test_s3_list();
    test_s3_error();
    test_credentials_file();
    test_registry();
    test_position();
    return tl_finish("answers");
}
