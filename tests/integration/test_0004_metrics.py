"""The Prometheus endpoints of capture and archive, read by an independent parser.

Known changes go through a real pipeline; /metrics of both services is parsed
with prometheus_client's text parser and its counters must match the changes
made. Object sizes are checked against S3 as boto3 lists them."""
import socket
import uuid

from prometheus_client.parser import text_string_to_metric_families

import dpcheck
from conftest import lsn_int


free_port = dpcheck.free_port
get = dpcheck.http_get


def scrape(port):
    """{family name: family} and {(sample name, sorted labels): value}."""
    status, body, ctype = get(port, "/metrics")
    assert status == 200, body
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    fams = list(text_string_to_metric_families(body))
    samples = {}
    for f in fams:
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return {f.name: f for f in fams}, samples, body


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def make_changes(p):
    users = [str(uuid.uuid4()) for _ in range(3)]
    for u in users:
        p.sql(f"INSERT INTO users (user_id, email, first_name) VALUES ('{u}', 'm-{u}@example.com', 'M')")
    p.sql(f"UPDATE users SET tier = 'gold' WHERE user_id = '{users[0]}'")
    p.sql(f"DELETE FROM users WHERE user_id = '{users[1]}'")
    prods = [str(uuid.uuid4()) for _ in range(2)]
    p.sql("BEGIN; " + " ".join(f"INSERT INTO products (product_id, name, price) VALUES ('{x}', 'P', 1.5);"
                               for x in prods) + " COMMIT;")
    p.sql(f"UPDATE products SET price = 2.5 WHERE product_id = '{prods[0]}'")
    # users: c3 u1 d1 (+1 tombstone), products: c2 u1; 7 transactions
    return {("public.users", "c"): 3, ("public.users", "u"): 1, ("public.users", "d"): 1,
            ("public.products", "c"): 2, ("public.products", "u"): 1}


def test_metrics_match_the_changes_made(pipeline):
    p = pipeline
    cport, aport = free_port(), free_port()
    # no_data: the tables start empty, and this test is about streaming
    p.start("capture", p.capture_config(**{"datapipe.metrics.port": str(cport), "snapshot.mode": "no_data"}))
    p.wait_streaming()
    dpcheck.wait_for(lambda: get(cport, "/health")[0] == 200, 30, what="capture /health 200")
    p.start("archive", p.archive_config(**{"datapipe.metrics.port": str(aport)}))
    dpcheck.wait_for(lambda: get(aport, "/health")[0] == 200, 60, what="archive /health 200")

    expected = make_changes(p)
    # the seed's gauge: events per second over the last 10 s, while it is fresh
    dpcheck.wait_for(lambda: (value(scrape(cport)[1], "cdc_events_per_second",
                                    table="public.users", operation="c") or 0) > 0,
                     9, interval=0.3, what="cdc_events_per_second > 0")
    end = p.current_lsn()
    p.wait_confirmed(end)

    # ---- capture ----
    def capture_settled():
        _, s, _ = scrape(cport)
        return s if value(s, "datapipe_capture_queue_events") == 0 and \
            (value(s, "datapipe_capture_confirmed_lsn") or 0) >= lsn_int(end) else None
    s = dpcheck.wait_for(capture_settled, 30, what="capture metrics to settle")
    fams, _, body = scrape(cport)
    for (table, op), n in expected.items():
        assert value(s, "datapipe_capture_events_total", table=table, operation=op) == n, (table, op, body)
    events = {k: v for k, v in s.items() if k[0] == "datapipe_capture_events_total"}
    assert sum(events.values()) == sum(expected.values()), events
    assert value(s, "datapipe_capture_tombstones_total") == 1
    assert value(s, "datapipe_capture_transactions_total") >= 7
    assert value(s, "datapipe_capture_kafka_delivery_errors_total") == 0
    assert value(s, "datapipe_capture_queue_bytes") == 0
    assert value(s, "datapipe_capture_lag_bytes") >= 0
    assert 0 <= value(s, "datapipe_capture_lag_ms") < 60000
    assert fams["cdc_events_per_second"].type == "gauge"
    assert fams["datapipe_capture_events"].type == "counter"  # the parser drops _total
    assert fams["datapipe_capture_confirmed_lsn"].type == "gauge"
    assert fams["datapipe_capture_events"].documentation

    # ---- archive ----
    def archive_settled():
        _, s, _ = scrape(aport)
        return s if value(s, "datapipe_archive_rows_uploaded_total") == sum(expected.values()) and \
            value(s, "datapipe_archive_records_total") == sum(expected.values()) + 1 else None
    dpcheck.wait_for(archive_settled, 60, what="archive to upload every row")
    # lag is refreshed once a second from the cached high watermarks
    dpcheck.wait_for(lambda: all(v == 0 for k, v in scrape(aport)[1].items() if k[0] == "kafka_consumer_lag"),
                     15, what="kafka_consumer_lag to reach 0")
    fams, s, body = scrape(aport)
    files = value(s, "datapipe_archive_files_uploaded_total")
    assert files >= 2  # two topics, at least a file each
    bucket, conn = p.env["S3_BUCKET"], f"arc-{p.id}"
    assert value(s, "datapipe_archive_uploads_total", connector=conn, bucket=bucket, result="ok") == files
    assert value(s, "datapipe_archive_uploads_total", connector=conn, bucket=bucket, result="error") == 0
    # the seed's counter keeps its name on the wire (prometheus_client's parser
    # reports counter samples with _total appended)
    assert f's3_upload_success_rate{{connector="{conn}",bucket="{bucket}"}} {int(files)}\n' in body
    assert [x.value for x in fams["s3_upload_success_rate"].samples] == [files]
    assert value(s, "datapipe_archive_tombstones_total") == 1
    assert value(s, "datapipe_archive_dlq_records_total") == 0
    assert value(s, "datapipe_archive_breaker_state") == 0
    assert value(s, "datapipe_archive_upload_duration_seconds_count") == files
    assert value(s, "datapipe_archive_upload_duration_seconds_bucket", le="+Inf") == files
    assert fams["datapipe_archive_upload_duration_seconds"].type == "histogram"
    assert fams["kafka_consumer_lag"].type == "gauge"
    lag = {dict(k[1])["topic"] for k in s if k[0] == "kafka_consumer_lag"}
    assert lag == set(p.topics.values()), lag
    # bytes uploaded: what S3 holds, as boto3 lists it
    s3 = dpcheck.s3_client(p.env)
    sizes = [o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=p.dir + "/")
             for o in page.get("Contents", [])]
    assert len(sizes) == files
    assert value(s, "datapipe_archive_bytes_uploaded_total") == sum(sizes)

    # ---- the endpoints themselves ----
    for port in (cport, aport):
        st, b, _ = get(port, "/health")
        assert (st, b) == (200, "ok\n")
        assert get(port, "/nope")[0] == 404
        assert get(port, "/")[0] == 404
        assert get(port, "/metrics?name=x")[0] == 200
        # secrets never reach a label or a help text
        body = get(port, "/metrics")[1]
        for secret in (p.env["PGPASSWORD"], p.env["AWS_SECRET_ACCESS_KEY"]):
            assert secret not in body
    # an oversized request is refused, not buffered
    with socket.create_connection(("127.0.0.1", cport), timeout=10) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
        assert c.recv(64).startswith(b"HTTP/1.1 431 ")
    p.drain_archive()


def test_archive_health_503_while_s3_fails(pipeline):
    p = pipeline
    aport, dead = free_port(), free_port()  # nothing listens on dead
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data"}))
    p.wait_streaming()
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'x-{uuid.uuid4()}@example.com')")
    p.start("archive", p.archive_config(**{"datapipe.metrics.port": str(aport), "flush.size": "1",
                                            "store.url": f"http://127.0.0.1:{dead}",
                                            "s3.part.retries": "0"}))
    st = dpcheck.wait_for(lambda: (lambda r: r if r[0] == 503 and "paused" in r[1] else None)(get(aport, "/health")),
                          60, what="archive /health 503 while S3 is down")
    _, s, _ = scrape(aport)
    assert value(s, "datapipe_archive_uploads_total", connector=f"arc-{p.id}", bucket=p.env["S3_BUCKET"],
                 result="error") >= 1
    assert value(s, "datapipe_archive_files_uploaded_total") == 0
    assert st[0] == 503

