/* test_buf - bounded buffer limits on both sides. */
#include "common/buf.h"
#include "testlib.h"

int main(void) {
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
