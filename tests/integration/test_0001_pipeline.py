"""N known changes -> exactly those events in Kafka and rows in S3.

Kafka is read with confluent-kafka, S3 with boto3, Parquet with pyarrow
and DuckDB; nothing of datapipe's own code judges its output."""
import json
import time
import uuid

import pytest
from conftest import first_message, java_partition, lsn_int

import dpcheck

AWKWARD = ['O\'Brien "the" \\ back', "Zoë 李 😀", "line\nbreak\ttab", "", "x" * 100]  # first_name is varchar(100)


def make_changes(p):
    """The known workload; returns what each row should look like."""
    users = [str(uuid.uuid4()) for _ in AWKWARD]
    for uid, name in zip(users, AWKWARD):
        p.sql(f"INSERT INTO users (user_id, email, first_name, last_name, tier) VALUES "
              f"('{uid}', 'u-{uid}@example.com', $${name}$$, 'L', 'gold')")
    p.sql(f"UPDATE users SET tier = 'platinum' WHERE user_id = '{users[0]}'")
    p.sql(f"DELETE FROM users WHERE user_id = '{users[1]}'")
    prods = [str(uuid.uuid4()) for _ in range(3)]
    prices = ["0.01", "12345678.90", "-5.50"]
    p.sql("BEGIN; " + " ".join(
        f"INSERT INTO products (product_id, name, category, price) VALUES ('{pid}', 'P{i}', 'books', {pr});"
        for i, (pid, pr) in enumerate(zip(prods, prices))) + " COMMIT;")
    p.sql(f"UPDATE products SET price = 99.99, is_active = false WHERE product_id = '{prods[0]}'")
    p.sql(f"DELETE FROM products WHERE product_id = '{prods[2]}'")
    return users, prods


def run_pipeline(p):
    p.start("capture", p.capture_config())
    p.wait_streaming()
    p.start("archive", p.archive_config())
    users, prods = make_changes(p)
    end = p.current_lsn()
    p.wait_confirmed(end)
    p.drain_archive()
    return users, prods


def test_known_changes_reach_s3_exactly(pipeline):
    p = pipeline
    t0 = time.time()
    users, prods = run_pipeline(p)
    keys, table, mirror = p.archive_rows()
    assert keys, "no objects in S3"
    assert not dpcheck.check_key_layout(keys, p.dir), keys
    rows = sorted(table.to_pylist(), key=lambda r: (r["lsn"], r["kafka_offset"]))
    ops = [(r["table_name"], r["operation_type"]) for r in rows]
    assert ops == [("users", "c")] * 5 + [("users", "u"), ("users", "d")] + \
        [("products", "c")] * 3 + [("products", "u"), ("products", "d")]
    for r in rows:
        assert r["database_name"] == p.db
        assert r["schema_name"] == "public"
        assert r["connector_version"]
        assert r["transaction_id"] > 0
        assert r["kafka_topic"] == p.topics[r["table_name"]]
        ts = r["event_timestamp"].timestamp()
        assert t0 - 5 < ts < time.time() + 5
        # hive partition columns from the path agree with the key
        assert f"year={r['year']:04d}/month={r['month']:02d}/day={r['day']:02d}/hour={r['hour']:02d}" \
            in " ".join(keys)
    # the three product inserts were one transaction
    assert len({r["transaction_id"] for r in rows if r["table_name"] == "products" and r["operation_type"] == "c"}) == 1
    # before/after JSON carries the exact values, awkward strings included
    inserted = [json.loads(r["after_data"]) for r in rows[:5]]
    assert [u["first_name"] for u in inserted] == AWKWARD
    assert [u["user_id"] for u in inserted] == users
    assert all(r["before_data"] is None for r in rows[:5])
    upd = rows[5]
    assert json.loads(upd["after_data"])["tier"] == "platinum"
    assert upd["before_data"] is None  # REPLICA IDENTITY DEFAULT sends no old row
    dele = json.loads(rows[6]["before_data"])
    # key-only before image: Debezium writes a NOT NULL column's fallback ("" for
    # text) where the row has no value (checked against Debezium by test_0003)
    assert dele["user_id"] == users[1] and dele["email"] == "" and dele["first_name"] is None
    assert rows[6]["after_data"] is None
    prices = [dpcheck.decode_decimal(json.loads(r["after_data"])["price"], 2) for r in rows[7:10]]
    assert prices == [0.01, 12345678.90, -5.50]
    pu = json.loads(rows[10]["after_data"])
    assert dpcheck.decode_decimal(pu["price"], 2) == 99.99 and pu["is_active"] is False
    # the trigger's updated_at moved forward (MicroTimestamp: µs since epoch)
    assert pu["updated_at"] > pu["created_at"]
    # LSNs increase, each change once
    assert len({r["lsn"] for r in rows}) == len(rows)
    # DuckDB agrees, hive partitioning on, JSON readable
    res = dpcheck.duckdb_query(mirror, p.dir, "operation_type, count(*) FROM {src} GROUP BY 1 ORDER BY 1")
    assert res == [("c", 8), ("d", 2), ("u", 2)]
    emails = dpcheck.duckdb_query(
        mirror, p.dir, "count(*) FROM {src} WHERE json_extract_string(after_data, '$.email') LIKE 'u-%@example.com' "
        "AND year >= 2024 AND hour BETWEEN 0 AND 23")
    assert emails == [(6,)]


def test_kafka_events_are_debezium_envelopes_on_java_partitions(pipeline):
    p = pipeline
    users, prods = run_pipeline(p)
    msgs = dpcheck.read_topics(p.env, list(p.topics.values()))
    # 12 change events + 2 tombstones
    values = [m for m in msgs if m.value() is not None]
    tombs = [m for m in msgs if m.value() is None]
    assert len(values) == 12 and len(tombs) == 2
    for m in msgs:
        assert m.partition() == java_partition(m.key(), 6), "partition differs from the Java client's"
        key = json.loads(m.key())
        assert key["schema"]["type"] == "struct" and key["schema"]["optional"] is False
    by_key = {}
    for m in values:
        v = json.loads(m.value())
        assert list(v) == ["schema", "payload"]
        pl = v["payload"]
        assert list(pl) == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
        src = pl["source"]
        assert list(src) == ["version", "connector", "name", "ts_ms", "snapshot", "db", "sequence",
                             "ts_us", "ts_ns", "schema", "table", "txId", "lsn", "xmin"]
        assert src["connector"] == "postgresql" and src["name"] == p.prefix and src["db"] == p.db
        assert src["snapshot"] == "false"
        assert json.loads(src["sequence"])[1] == str(src["lsn"])
        table = src["table"]
        assert v["schema"]["name"] == f"{p.prefix}.public.{table}.Envelope"
        fields = [f["field"] for f in v["schema"]["fields"]]
        assert fields == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
        after_schema = {f["field"]: f for f in v["schema"]["fields"][1]["fields"]}
        if table == "users":
            assert after_schema["user_id"]["name"] == "io.debezium.data.Uuid"
            assert after_schema["user_id"]["optional"] is False
            assert after_schema["email"]["optional"] is False
            assert after_schema["first_name"]["optional"] is True
            assert after_schema["created_at"]["name"] == "io.debezium.time.MicroTimestamp"
        else:
            assert after_schema["price"]["name"] == "org.apache.kafka.connect.data.Decimal"
            assert after_schema["price"]["parameters"] == {"scale": "2", "connect.decimal.precision": "10"}
        by_key.setdefault(m.key(), []).append((m.offset(), pl["op"]))
    # a tombstone follows each delete, same key, same partition
    for t in tombs:
        seq = by_key[t.key()]
        assert seq[-1][1] == "d" and seq[-1][0] < t.offset()
    # the slot confirmed everything that reached Kafka
    assert lsn_int(p.slot()[1]) >= max(json.loads(m.value())["payload"]["source"]["lsn"] for m in values)


def test_confirmed_lsn_waits_for_kafka_acks(pipeline, env):
    """With every broker frozen (SIGSTOP), capture reads the change but must
    not confirm its LSN; once Kafka answers again it delivers and confirms."""
    import os
    import signal
    p = pipeline
    p.start("capture", p.capture_config())
    p.wait_streaming()
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'warm@example.com')")
    p.wait_confirmed(p.current_lsn())  # topics known, producer connected
    pids = [int((dpcheck.ROOT / ".stack" / f"kafka-{i}.pid").read_text()) for i in (1, 2, 3)]
    before = p.slot()[1]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'frozen@example.com')")
        target = p.current_lsn()
        time.sleep(6)  # capture's feedback interval is 1 s when the position moves
        assert lsn_int(p.slot()[1]) < lsn_int(target), "LSN confirmed while Kafka could not acknowledge"
        assert lsn_int(p.slot()[1]) >= lsn_int(before)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    p.wait_confirmed(target, timeout=120)
    assert p.procs["capture"].poll() is None


def test_bad_configuration_is_named(pipeline, binary, env, tmp_path):
    import subprocess
    cfg = json.loads(pipeline.capture_config().read_text())
    cases = [
        ({"databse.hostname": "x"}, 'unknown configuration key "databse.hostname"'),
        ({"database.port": "99999"}, '"database.port"'),
        ({"snapshot.mode": "always"}, '"snapshot.mode"'),
        ({"kafka.linger.ms": "soon"}, '"kafka.linger.ms"'),
        ({"kafka.acks": "1"}, '"kafka.acks" must be "all"'),
        ({"value.converter": "io.confluent.connect.protobuf.ProtobufConverter"}, '"value.converter"'),
        ({"value.converter": "io.confluent.connect.avro.AvroConverter"},
         '"value.converter.schema.registry.url"'),
        ({"transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState", "transforms": "unwrap",
          "transforms.unwrap.delete.handling.mode": "keep"}, '"transforms.unwrap.delete.handling.mode"'),
    ]
    for extra, needle in cases:
        c = {"name": cfg["name"], "config": dict(cfg["config"], **extra)}
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(c))
        r = subprocess.run([str(binary), "capture", "--config", str(path)], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, (extra, r.stderr)
        assert needle in r.stderr, (extra, r.stderr)
    # an unreachable server is named with its address, exit 1
    c = {"name": cfg["name"], "config": dict(cfg["config"], **{"database.port": "1"})}
    path = tmp_path / "unreachable.json"
    path.write_text(json.dumps(c))
    r = subprocess.run([str(binary), "capture", "--config", str(path)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "127.0.0.1:1" in r.stderr, r.stderr
    # a table missing from Kafka is named
    pipeline_topics = list(pipeline.topics.values())
    pipeline.grant(routed_prefix="nosuch.")  # may describe it: so Kafka says it is not there
    c = {"name": cfg["name"], "config": dict(cfg["config"], **{"transforms.route.replacement": "nosuch.$1"})}
    path = tmp_path / "missing-topic.json"
    path.write_text(json.dumps(c))
    proc = subprocess.Popen([str(binary), "capture", "--config", str(path)], env=env, stderr=subprocess.PIPE,
                            text=True)
    dpcheck.wait_for(lambda: proc.poll() is not None or (pipeline.slot() or (False,))[0], 60,
                     what="capture to stream")
    pipeline.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'x@example.com')")
    _, err = proc.communicate(timeout=60)
    # the first table bound names its topic (users or products, whichever
    # the snapshot or the stream meets first)
    assert proc.returncode == 1 and 'topic "nosuch.' in err and "does not exist" in err, err
    assert pipeline_topics


def test_poison_record_goes_to_dlq_with_context(pipeline):
    from confluent_kafka import Consumer, Producer
    p = pipeline
    topic = p.topics["users"]
    dlq = f"dlq.{p.prefix}"
    from conftest import create_topics
    create_topics(p.env, [dlq], partitions=1)
    prod = Producer(dpcheck.kafka_conf(p.env))
    prod.produce(topic, key=b"k1", value=b"this is not json", partition=2)
    prod.produce(topic, key=b"k2", value=json.dumps({"op": "c", "source": {"table": "users", "txId": 1, "lsn": 1},
                                                     "before": None, "after": {"a": 1}}).encode(), partition=2)
    prod.flush(30)
    p.start("archive", p.archive_config(**{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}))
    time.sleep(2)
    p.drain_archive()
    keys, table, _ = p.archive_rows()
    rows = table.to_pylist()
    assert [(r["kafka_partition"], r["kafka_offset"]) for r in rows] == [(2, 1)]
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"dlq-{p.id}",
                  "auto.offset.reset": "earliest"}))
    c.subscribe([dlq])
    m = first_message(c, 30)
    assert m is not None and m.value() == b"this is not json" and m.key() == b"k1"
    h = {k: v.decode() for k, v in m.headers()}
    assert h["__connect.errors.topic"] == topic
    assert h["__connect.errors.partition"] == "2" and h["__connect.errors.offset"] == "0"
    assert "not JSON" in h["__connect.errors.exception.message"]


def test_poison_record_with_a_dlq_and_tolerance_none_is_reported_then_stops(pipeline):
    """Kafka Connect's error handler reports a failed record to the
    dead-letter topic and only then checks the tolerance: with
    errors.tolerance=none the record is in the DLQ and the task stops,
    committing nothing past it"""
    from confluent_kafka import Consumer, Producer, TopicPartition
    p = pipeline
    topic = p.topics["products"]
    dlq = f"dlq.{p.prefix}"
    from conftest import create_topics
    create_topics(p.env, [dlq], partitions=1)
    good = json.dumps({"op": "c", "source": {"table": "products"}, "after": {"x": 1}}).encode()
    prod = Producer(dpcheck.kafka_conf(p.env))
    for v in (good, b"{broken", good):
        prod.produce(topic, value=v, partition=0)
    prod.flush(30)
    proc = p.start("archive", p.archive_config(**{"flush.size": "1", "errors.tolerance": "none",
                                                  "errors.deadletterqueue.topic.name": dlq}))
    assert proc.wait(timeout=60) == 1
    assert "offset 1" in p.log("archive") and "errors.tolerance=none" in p.log("archive")
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"connect-arc-{p.id}"}))
    committed = c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    c.close()
    assert committed == 1, committed
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"dlq-{p.id}", "auto.offset.reset": "earliest"}))
    c.subscribe([dlq])
    m = first_message(c, 30)
    assert m is not None and m.value() == b"{broken"
    assert dict((k, v.decode()) for k, v in m.headers())["__connect.errors.offset"] == "1"


def test_poison_record_stops_archive_without_committing_past_it(pipeline):
    from confluent_kafka import Consumer, Producer, TopicPartition
    p = pipeline
    topic = p.topics["products"]
    good = json.dumps({"op": "c", "source": {"table": "products"}, "after": {"x": 1}}).encode()
    prod = Producer(dpcheck.kafka_conf(p.env))
    for v in (good, good, b"{broken", good):
        prod.produce(topic, value=v, partition=0)
    prod.flush(30)
    proc = p.start("archive", p.archive_config(**{"flush.size": "1"}))
    rc = proc.wait(timeout=60)
    assert rc == 1
    assert "offset 2" in p.log("archive") and "errors.tolerance=none" in p.log("archive")
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"connect-arc-{p.id}"}))
    committed = c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    c.close()
    assert committed == 2, committed
    keys, table, _ = p.archive_rows()
    assert sorted(r["kafka_offset"] for r in table.to_pylist()) == [0, 1]


@pytest.mark.parametrize("codec,ext", [("zstd", ".zstd.parquet"), ("gzip", ".gz.parquet"), ("none", ".parquet")])
def test_codecs_are_read_back(pipeline, codec, ext):
    from confluent_kafka import Producer
    import pyarrow.parquet as pq
    p = pipeline
    v = json.dumps({"op": "u", "source": {"table": "users", "txId": 7, "lsn": 70, "ts_ms": 1700000000000},
                    "before": {"id": 1}, "after": {"id": 1, "s": "é"}}).encode()
    prod = Producer(dpcheck.kafka_conf(p.env))
    for _ in range(3):
        prod.produce(p.topics["users"], value=v, partition=1)
    prod.flush(30)
    p.start("archive", p.archive_config(**{"parquet.codec": codec}))
    time.sleep(2)
    p.drain_archive()
    keys, table, mirror = p.archive_rows()
    assert keys and all(k.endswith(ext) and not k.endswith(".snappy.parquet") for k in keys)
    assert table.num_rows == 3
    md = pq.ParquetFile(str(mirror / keys[0])).metadata
    assert md.row_group(0).column(0).compression.lower() == {"none": "uncompressed"}.get(codec, codec)
    kv = md.metadata
    assert kv[b"datapipe.kafka.topic"].decode() == p.topics["users"]


def test_record_field_timestamps_choose_the_partition(pipeline):
    from confluent_kafka import Producer
    p = pipeline
    prod = Producer(dpcheck.kafka_conf(p.env))
    for ts in (1700000000000, 1700003600000):  # 2023-11-14 22:xx and 23:xx UTC
        prod.produce(p.topics["users"], partition=0, value=json.dumps(
            {"op": "c", "source": {"table": "users", "ts_ms": ts}, "after": {"id": 1}}).encode())
    prod.flush(30)
    p.start("archive", p.archive_config(**{"timestamp.extractor": "RecordField",
                                           "timestamp.field": "source.ts_ms"}))
    time.sleep(2)
    p.drain_archive()
    keys, table, _ = p.archive_rows()
    assert sorted(k.split("/")[1:5] for k in keys) == [
        ["year=2023", "month=11", "day=14", "hour=22"], ["year=2023", "month=11", "day=14", "hour=23"]]


def test_s3_outage_opens_the_breaker_and_loses_nothing(pipeline):
    """S3 unreachable: uploads fail, the circuit breaker opens after five,
    nothing is committed; with S3 back, every record arrives once."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    p = pipeline
    topic = p.topics["products"]
    prod = Producer(dpcheck.kafka_conf(p.env))
    for i in range(10):
        prod.produce(topic, partition=i % 2, value=json.dumps(
            {"op": "c", "source": {"table": "products", "lsn": i}, "after": {"i": i}}).encode())
    prod.flush(30)
    p.start("archive", p.archive_config(**{"store.url": "http://127.0.0.1:1", "s3.part.retries": "0",
                                           "flush.size": "1"}))
    dpcheck.wait_for(lambda: "circuit breaker open" in p.log("archive"), 120, what="the breaker to open")
    assert dpcheck.stop(p.procs["archive"]) == 0
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"connect-arc-{p.id}"}))
    committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    c.close()
    assert all(tp.offset < 0 for tp in committed), committed  # nothing committed without S3
    p.start("archive", p.archive_config(**{"flush.size": "1"}))
    time.sleep(2)
    p.drain_archive()
    keys, table, _ = p.archive_rows()
    assert sorted((r["kafka_partition"], r["kafka_offset"]) for r in table.to_pylist()) == \
        sorted((i % 2, i // 2) for i in range(10))
