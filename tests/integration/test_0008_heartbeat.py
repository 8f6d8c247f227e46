"""Heartbeats and idle captured tables: the slot keeps moving (no WAL
pile-up) and heartbeat records reach <topic.heartbeat.prefix>.<prefix>."""
import json
import time

import dpcheck
from conftest import create_topics, first_message, lsn_int


def test_slot_keeps_moving_while_captured_tables_idle(pipeline):
    from confluent_kafka import Consumer, TopicPartition
    p = pipeline
    hb_topic = f"__debezium-heartbeat.{p.prefix}"
    create_topics(p.env, [hb_topic], partitions=1)
    p.sql("CREATE TABLE hb (id int PRIMARY KEY, at timestamptz); INSERT INTO hb VALUES (1, now())")
    p.sql("CREATE TABLE noise (id serial PRIMARY KEY, pad text)")
    p.start("capture", p.capture_config(**{
        "snapshot.mode": "no_data", "heartbeat.interval.ms": "500",
        "heartbeat.action.query": "UPDATE hb SET at = now() WHERE id = 1"}))
    p.wait_streaming()
    # lots of WAL in a table the publication does not carry
    p.sql("INSERT INTO noise (pad) SELECT repeat('x', 500) FROM generate_series(1, 40000)")
    target = p.current_lsn()
    p.wait_confirmed(target, timeout=60)
    lag = dpcheck.pg_rows(p.env, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
                                 f"FROM pg_replication_slots WHERE slot_name = 'slot_{p.id}'")[0][0]
    assert lag < 1 << 20, f"slot {lag} bytes behind"
    updates = p.sql("SELECT at FROM hb", fetch=True)[0][0]
    time.sleep(1.5)
    assert p.sql("SELECT at FROM hb", fetch=True)[0][0] > updates  # the action query runs
    c = Consumer(dpcheck.kafka_conf(p.env, **{"group.id": f"hb-{p.id}"}))
    c.assign([TopicPartition(hb_topic, 0, 0)])
    m = first_message(c, 20)
    assert m is not None
    assert json.loads(m.key())["payload"] == {"serverName": p.prefix}
    v = json.loads(m.value())
    assert v["schema"]["name"] == "io.debezium.connector.common.Heartbeat"
    assert abs(v["payload"]["ts_ms"] / 1000 - time.time()) < 60
    assert lsn_int(p.slot()[1]) >= lsn_int(target)
