/* test_buf - bounded buffer limits on both sides. */
#include <stdint.h>
#include "common/buf.h"
#include "testlib.h"

static void test_put_int(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1024);
    dp_buf_put_i64(&b, 0);
    dp_buf_putc(&b, ' ');
    dp_buf_put_i64(&b, -1);
    dp_buf_putc(&b, ' ');
    dp_buf_put_i64(&b, INT64_MIN);
    dp_buf_putc(&b, ' ');
    dp_buf_put_i64(&b, INT64_MAX);
    dp_buf_putc(&b, ' ');
    dp_buf_put_u64(&b, UINT64_MAX);
    dp_buf_putc(&b, ' ');
    dp_buf_put_u64(&b, 1700000000123456ULL);
    CHECK_EQ_STR(dp_buf_cstr(&b),
                 "0 -1 -9223372036854775808 9223372036854775807 "
                 "18446744073709551615 1700000000123456");
    dp_buf_fini(&b);
    /* at the bound: refused whole, as any append */
    dp_buf_init(&b, 3);
    CHECK_EQ_INT(dp_buf_put_i64(&b, -12), DP_OK);
    CHECK(dp_buf_put_u64(&b, 99) != DP_OK);
    dp_buf_fini(&b);
}

int main(void) {
    test_put_int();
    dp_buf_t b;
    dp_buf_init(&b, 8);
    CHECK_EQ_INT(dp_buf_append(&b, "12345678", 8), DP_OK);
    CHECK_EQ_INT(b.len, 8);
    CHECK_EQ_INT(dp_buf_putc(&b, 'x'), DP_ERR_NOMEM);
    CHECK_EQ_INT(b.len, 8);
    CHECK_EQ_STR(dp_buf_cstr(&b), "12345678");
    dp_buf_reset(&b);
    CHECK_EQ_INT(dp_buf_printf(&b, "%d-%s", 42, "ab"), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&b), "42-ab");
    CHECK_EQ_INT(dp_buf_printf(&b, "%s", "toolong"), DP_ERR_NOMEM);
    dp_buf_fini(&b);
    dp_buf_init(&b, 1 << 20);
    char big[1000];
    memset(big, 'a', sizeof big);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(dp_buf_append(&b, big, sizeof big), DP_OK);
    CHECK_EQ_INT(b.len, 100000);
    CHECK_EQ_INT(dp_buf_printf(&b, "%0300d", 7), DP_OK);
    CHECK_EQ_INT(b.len, 100300);
    dp_buf_fini(&b);
    return tl_finish("test_buf");
}
