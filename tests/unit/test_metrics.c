/* test_metrics.c - the Prometheus registry: exposition format, label
 * escaping, the series bound, histogram buckets, rates, the HTTP request
 * handling, and the server over loopback sockets (idle and slow clients). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/metrics.h"
#include "testlib.h"

static char *render(dp_metrics_t *m) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 24);
    CHECK_EQ_INT(dp_metrics_render(m, &b), DP_OK);
    char *s = dp_xstrdup(dp_buf_cstr(&b));
    dp_buf_fini(&b);
    return s;
}

static int has(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

static void test_format_counter_gauge(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    static const char *const tl[] = {"table", "operation"};
    dp_metric_t *ev = dp_metric_counter(m, "dp_events_total", "Events by table.", 2, tl);
    dp_metric_t *g = dp_metric_gauge(m, "dp_lag_bytes", "Lag in bytes.", 0, NULL);
    CHECK(ev && g);
    const char *v1[] = {"public.users", "c"}, *v2[] = {"public.users", "u"};
    dp_metric_inc(dp_metric_series(ev, v1));
    dp_metric_add(dp_metric_series(ev, v1), 2);
    dp_metric_inc(dp_metric_series(ev, v2));
    CHECK(dp_metric_series(ev, v1) == dp_metric_series(ev, v1)); /* same series on reuse */
    dp_metric_set(dp_metric_series(g, NULL), 1234567890123.0);
    char *t = render(m);
    CHECK(strncmp(t, "# HELP dp_events_total Events by table.\n# TYPE dp_events_total counter\n",
                  70) == 0);
    CHECK(has(t, "dp_events_total{table=\"public.users\",operation=\"c\"} 3"));
    CHECK(has(t, "dp_events_total{table=\"public.users\",operation=\"u\"} 1"));
    CHECK(has(t, "# TYPE dp_lag_bytes gauge"));
    CHECK(has(t, "dp_lag_bytes 1234567890123"));
    CHECK(strstr(t, "dp_events_total{") < strstr(t, "# HELP dp_lag_bytes")); /* declaration order */
    free(t);
    dp_metric_set(dp_metric_series(g, NULL), 0.25);
    t = render(m);
    CHECK(has(t, "dp_lag_bytes 0.25"));
    free(t);
    dp_metric_set(dp_metric_series(g, NULL), -1.0 / 0.0);
    t = render(m);
    CHECK(has(t, "dp_lag_bytes -Inf"));
    free(t);
    dp_metrics_destroy(m);
}

static void test_names_rejected(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    static const char *const bad[] = {"bad-label"}, *const reserved[] = {"__x"},
                             *const le[] = {"le"};
    CHECK(dp_metric_counter(m, "1abc", "", 0, NULL) == NULL);
    CHECK(dp_metric_counter(m, "a b", "", 0, NULL) == NULL);
    CHECK(dp_metric_counter(m, "", "", 0, NULL) == NULL);
    CHECK(dp_metric_counter(m, "ok", "", 1, bad) == NULL);
    CHECK(dp_metric_counter(m, "ok", "", 1, reserved) == NULL);
    CHECK(dp_metric_histogram(m, "h", "", 1, le, NULL, 0) == NULL);
    CHECK(dp_metric_counter(m, "ok:sub_total", "", 0, NULL) != NULL);
    CHECK(dp_metric_gauge(m, "ok:sub_total", "", 0, NULL) == NULL); /* declared twice */
    static const char *const five[] = {"a", "b", "c", "d", "e"};
    CHECK(dp_metric_counter(m, "five", "", 5, five) == NULL);
    double unsorted[] = {1, 0.5};
    CHECK(dp_metric_histogram(m, "hu", "", 0, NULL, unsorted, 2) == NULL);
    /* NULL families and series are no-ops */
    CHECK(dp_metric_series(NULL, NULL) == NULL);
    dp_metric_inc(NULL);
    dp_metric_set(NULL, 1);
    dp_metric_observe(NULL, 1);
    dp_metrics_destroy(m);
    dp_metrics_destroy(NULL);
}

static void test_escaping(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    static const char *const l[] = {"v"};
    dp_metric_t *f =
        dp_metric_counter(m, "esc_total", "help with \\ and\nnewline \"quoted\"", 1, l);
    const char *v[] = {"a\\b\"c\nd"};
    dp_metric_inc(dp_metric_series(f, v));
    const char *u[] = {"Zoë 李"};
    dp_metric_inc(dp_metric_series(f, u));
    char *t = render(m);
    /* HELP escapes backslash and newline but not quotes */
    CHECK(has(t, "# HELP esc_total help with \\\\ and\\nnewline \"quoted\""));
    /* label values escape backslash, quote and newline */
    CHECK(has(t, "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1"));
    CHECK(has(t, "esc_total{v=\"Zoë 李\"} 1")); /* UTF-8 as is */
    free(t);
    dp_metrics_destroy(m);
}

static void test_series_bound(void) {
    dp_metrics_t *m = dp_metrics_new(3);
    static const char *const l[] = {"k"};
    dp_metric_t *f = dp_metric_counter(m, "bound_total", "", 1, l);
    char name[16];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "s%d", i);
        const char *v[] = {name};
        dp_metric_inc(dp_metric_series(f, v));
    }
    /* the fourth and fifth distinct series go to the overflow series */
    const char *v3[] = {"s3"}, *v4[] = {"s4"}, *v0[] = {"s0"};
    dp_metric_series_t *o = dp_metric_series(f, v3);
    CHECK(o != NULL);
    CHECK(dp_metric_series(f, v4) == o);
    dp_metric_inc(o);
    dp_metric_inc(dp_metric_series(f, v4));
    CHECK(dp_metric_series(f, v0) != o); /* existing series still found */
    char *t = render(m);
    CHECK(has(t, "bound_total{k=\"s0\"} 1"));
    CHECK(has(t, "bound_total{k=\"s2\"} 1"));
    CHECK(has(t, "bound_total{k=\"overflow\"} 2"));
    CHECK(strstr(t, "s3") == NULL && strstr(t, "s4") == NULL);
    free(t);
    /* a removed series is hidden, and comes back on use */
    dp_metric_remove(f, v0);
    t = render(m);
    CHECK(strstr(t, "\"s0\"") == NULL);
    free(t);
    dp_metric_inc(dp_metric_series(f, v0));
    t = render(m);
    CHECK(has(t, "bound_total{k=\"s0\"} 2"));
    free(t);
    dp_metrics_destroy(m);
}

static void test_histogram(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    static const double b[] = {0.1, 1, 10};
    static const char *const l[] = {"op"};
    dp_metric_t *h = dp_metric_histogram(m, "lat_seconds", "Latency.", 1, l, b, 3);
    const char *v[] = {"put"};
    dp_metric_series_t *s = dp_metric_series(h, v);
    dp_metric_observe(s, 0.05);
    dp_metric_observe(s, 0.1); /* le is inclusive */
    dp_metric_observe(s, 0.5);
    dp_metric_observe(s, 10);
    dp_metric_observe(s, 11);
    CHECK_EQ_INT((long long)dp_metric_value(s), 5);
    char *t = render(m);
    CHECK(has(t, "# TYPE lat_seconds histogram"));
    CHECK(has(t, "lat_seconds_bucket{op=\"put\",le=\"0.1\"} 2"));
    CHECK(has(t, "lat_seconds_bucket{op=\"put\",le=\"1\"} 3"));
    CHECK(has(t, "lat_seconds_bucket{op=\"put\",le=\"10\"} 4"));
    CHECK(has(t, "lat_seconds_bucket{op=\"put\",le=\"+Inf\"} 5"));
    CHECK(has(t, "lat_seconds_sum{op=\"put\"} 21.65"));
    CHECK(has(t, "lat_seconds_count{op=\"put\"} 5"));
    free(t);
    dp_metrics_destroy(m);
}

static void test_rate(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    static const char *const l[] = {"table", "operation"};
    dp_metric_t *c = dp_metric_counter(m, "ev_total", "", 2, l);
    CHECK(dp_metric_rate(m, "ev_per_second", "Rate.", c) != NULL);
    const char *v[] = {"t", "c"};
    dp_metric_series_t *s = dp_metric_series(c, v);
    int64_t t0 = 1000000;
    dp_metrics_tick(m, t0);
    for (int i = 1; i <= 20; i++) { /* 50 events a second for 20 s */
        dp_metric_add(s, 50);
        dp_metrics_tick(m, t0 + i * 1000);
        dp_metrics_tick(m, t0 + i * 1000 + 10); /* ticks within a second are ignored */
    }
    char *t = render(m);
    CHECK(has(t, "# TYPE ev_per_second gauge"));
    CHECK(has(t, "ev_per_second{table=\"t\",operation=\"c\"} 50"));
    free(t);
    /* quiet for the whole window: back to 0 */
    for (int i = 21; i <= 32; i++) dp_metrics_tick(m, t0 + i * 1000);
    t = render(m);
    CHECK(has(t, "ev_per_second{table=\"t\",operation=\"c\"} 0"));
    free(t);
    /* a series created between ticks counts its first events */
    const char *w[] = {"t", "u"};
    dp_metric_add(dp_metric_series(c, w), 20);
    dp_metrics_tick(m, t0 + 34 * 1000);
    t = render(m);
    CHECK(has(t, "ev_per_second{table=\"t\",operation=\"u\"} 10"));
    free(t);
    dp_metrics_destroy(m);
}

static char *handle(dp_metrics_t *m, const char *req) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 26);
    dp_metrics_handle(m, req, strlen(req), &b);
    char *s = dp_xstrdup(dp_buf_cstr(&b));
    dp_buf_fini(&b);
    return s;
}

static void test_http(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    dp_metric_inc(dp_metric_series(dp_metric_counter(m, "x_total", "X.", 0, NULL), NULL));
    char *r = handle(m, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != NULL);
    CHECK(strstr(r, "\r\n\r\n# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n") != NULL);
    CHECK(strstr(r, "Content-Length: 51\r\n") != NULL);
    free(r);
    r = handle(m, "GET /metrics?name[]=x HTTP/1.0\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
    free(r);
    r = handle(m, "HEAD /metrics HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0 && strstr(r, "x_total") == NULL);
    free(r);
    /* health: 503 with the reason until the service says otherwise */
    r = handle(m, "GET /health HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(r, "\r\n\r\nstarting\n") != NULL);
    free(r);
    dp_metrics_set_health(m, 1, NULL);
    r = handle(m, "GET /health HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0 && strstr(r, "\r\n\r\nok\n") != NULL);
    free(r);
    dp_metrics_set_health(m, 0, "kafka delivery failed");
    r = handle(m, "GET /health HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 503 ", 13) == 0 &&
          strstr(r, "\r\n\r\nkafka delivery failed\n") != NULL);
    free(r);
    r = handle(m, "GET / HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
    free(r);
    r = handle(m, "GET /metricsx HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
    free(r);
    r = handle(m, "POST /metrics HTTP/1.1\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 405 ", 13) == 0);
    free(r);
    r = handle(m, "garbage\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
    free(r);
    r = handle(m, "GET /metrics\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
    free(r);
    dp_metrics_destroy(m);
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

/* read_answer: what the server sends until it closes, waiting at most
 * bound_ms for each piece; -1 when it did not close within the bound */
static int read_answer(int fd, char *out, size_t n, int bound_ms) {
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, bound_ms) != 1) return -1;
        ssize_t r = recv(fd, out + len, n - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        if (len == n - 1) break;
    }
    out[len] = 0;
    return (int)len;
}

/* the server answers while other clients sit idle or send slowly; each
 * connection has a total deadline (5 s); an oversized request gets 431 */
static void test_server(void) {
    dp_metrics_t *m = dp_metrics_new(0);
    dp_metrics_set_health(m, 1, NULL);
    char err[256], ans[4096];
    dp_metrics_server_t *srv = dp_metrics_server_start(m, "127.0.0.1", 0, err, sizeof err);
    CHECK(srv != NULL);
    int port = dp_metrics_server_port(srv);
    /* more idle connections than the server keeps, and one that sends a
     * byte at a time: none of them holds up another client's answer (the
     * old one-at-a-time server waited 5 s on the first idle one) */
    int idle[20];
    for (int i = 0; i < 20; i++) idle[i] = dial(port);
    int slow = dial(port);
    CHECK_EQ_INT(send(slow, "G", 1, 0), 1);
    int c = dial(port);
    const char *get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_INT(send(c, get, strlen(get), 0), (long)strlen(get));
    CHECK(read_answer(c, ans, sizeof ans, 3000) > 0);
    CHECK(strncmp(ans, "HTTP/1.1 200 ", 13) == 0 && strstr(ans, "\r\n\r\nok\n") != NULL);
    close(c);
    /* the slow one is cut at its deadline, not kept for as long as it trickles */
    CHECK_EQ_INT(send(slow, "E", 1, 0), 1);
    CHECK(read_answer(slow, ans, sizeof ans, 8000) == 0);
    close(slow);
    for (int i = 0; i < 20; i++) close(idle[i]);
    /* headers beyond the request bound: 431 */
    c = dial(port);
    char big[9000];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 27);
    CHECK(send(c, big, sizeof big, MSG_NOSIGNAL) > 0);
    CHECK(read_answer(c, ans, sizeof ans, 3000) > 0);
    CHECK(strncmp(ans, "HTTP/1.1 431 ", 13) == 0);
    close(c);
    dp_metrics_server_stop(srv);
    dp_metrics_destroy(m);
}

int main(void) {
    test_server();
    test_format_counter_gauge();
    test_names_rejected();
    test_escaping();
    test_series_bound();
    test_histogram();
    test_rate();
    test_http();
    return tl_finish("metrics");
}
