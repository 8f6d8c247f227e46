"""The position capture confirms to PostgreSQL never passes a change that is
not in Kafka, on the paths where a record did not make it:

- exactly-once: a Kafka transaction that the coordinator aborted (its
  transaction.timeout.ms expired while capture stood still) holds the
  position at the last committed transaction, on every path; capture
  starts again by itself with a new producer and sends the aborted
  changes again, and an independent read_committed consumer finds every
  change of the load once;
- at-least-once: a record Kafka refused holds the position before its
  transaction, even when the acknowledgement ring is full behind it.
"""
import base64
import json
import os
import signal
import time

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

import conftest
import dpcheck


def streaming_under_load(p, capture_extra, rate, duration):
    """capture (no snapshot, capture_extra) streaming, then `datapipe load`
    at rate for duration s (0: until stopped): (cfg, proc, ledger, load)"""
    cfg = p.capture_config(**{"snapshot.mode": "no_data", **capture_extra})
    proc = p.start_capture(cfg)
    p.wait_streaming()
    ledger = p.tmp / "ledger.json"
    return cfg, proc, ledger, p.start_load(ledger, rate, duration)


def test_exactly_once_confirms_nothing_of_an_aborted_transaction(pipeline):
    p = pipeline
    # a transaction that stays open 4 s is aborted by its coordinator; one
    # stays open 3 s, so that a stop lands inside one rather
    # than in a commit (which the coordinator completes without capture)
    _, proc, ledger, load = streaming_under_load(
        p, {"kafka.transaction.timeout.ms": "4000", "kafka.message.timeout.ms": "4000",
            "datapipe.transaction.interval.ms": "3000"}, 500, 0)  # the load: until stopped
    time.sleep(4)
    for attempt in range(3):
        # capture stands still with its transaction open until the coordinator
        # has aborted it: its check runs every 10 s, so 25 s cover two checks
        # past the 4 s timeout even on a busy machine
        proc.send_signal(signal.SIGSTOP)
        time.sleep(25)
        proc.send_signal(signal.SIGCONT)
        # the transaction is gone: capture starts again by itself with a new
        # producer, from what it had confirmed. If the stop came during a
        # commit, nothing was aborted: stop it again.
        try:
            dpcheck.wait_for(lambda: "restarting capture" in p.log("capture") or proc.poll() is not None,
                             30, what="capture to restart its producer")
            break
        except TimeoutError:
            assert attempt < 2, "no stop landed inside an open transaction:\n" + p.log("capture")[-3000:]
    log = p.log("capture")
    assert proc.poll() is None, "capture stopped:\n" + log[-3000:]
    assert "kafka transaction" in log, log[-3000:]
    time.sleep(3)  # changes after the restart too
    assert dpcheck.stop(load, signal.SIGINT, timeout=60) == 0
    p.wait_streaming()
    p.wait_confirmed(p.current_lsn(), timeout=300)
    p.check_against_ledger(ledger, exactly_once=True)


def test_stop_while_the_producer_queue_is_full_loses_nothing(pipeline):
    """SIGTERM while capture waits for room in librdkafka's queue: the
    record it was handing over is not in Kafka, so the position stored by
    the final commit must not count it, or the next start skips it. A
    one-message queue keeps capture waiting for room most of the time;
    several stops under load, each followed by a start."""
    import random
    p = pipeline
    cfg, proc, ledger, load = streaming_under_load(
        p, {"kafka.queue.buffering.max.messages": "1", "kafka.linger.ms": "0"}, 400, 12)
    rnd = random.Random(17)
    for _ in range(6):
        time.sleep(rnd.uniform(1.0, 2.0))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, p.log("capture")[-3000:]
        proc = p.start_capture(cfg)
    assert load.wait(timeout=120) == 0
    p.wait_confirmed(p.current_lsn(), timeout=300)
    p.check_against_ledger(ledger, exactly_once=True)


def test_exactly_once_full_ring_commits_to_make_room(pipeline):
    """The acknowledgement ring holds max.queue.size + 1,024 transactions;
    with exactly-once, those read since the last Kafka commit leave it only
    with the next commit. When it fills first (many small transactions, a
    long datapipe.transaction.interval.ms), waiting for room must commit:
    capture goes on and confirms everything."""
    p = pipeline
    _, proc, ledger, load = streaming_under_load(
        p, {"max.queue.size": "16", "datapipe.transaction.interval.ms": "10000"}, 1000, 6)
    # about 6,000 one-change transactions
    assert load.wait(timeout=120) == 0
    p.wait_confirmed(p.current_lsn(), timeout=120)
    assert proc.poll() is None, p.log("capture")[-3000:]
    p.check_against_ledger(ledger, exactly_once=True)


def set_topic_config(env, topic, name, value):
    a = AdminClient(dpcheck.kafka_conf(env))
    entry = ConfigEntry(name, str(value), incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for f in a.incremental_alter_configs([res]).values():
        f.result(timeout=60)


def test_at_least_once_failed_delivery_holds_the_position(pipeline):
    p = pipeline
    users = p.topics["users"]
    set_topic_config(p.env, users, "max.message.bytes", 4096)
    # records wait 4 s in librdkafka before they go out, and the ring holds
    # about 1,000 transactions: skipped updates fill it behind the record
    # Kafka will refuse
    cfg = p.capture_config(**{"snapshot.mode": "no_data", "datapipe.exactly.once": "false",
                              "skipped.operations": "u", "max.queue.size": "16",
                              "kafka.linger.ms": "4000"})
    p.sql("ALTER TABLE users ADD COLUMN note text")
    p.sql("INSERT INTO products (product_id, name) SELECT gen_random_uuid(), 'p' || g "
          "FROM generate_series(1, 10) g")
    proc = p.start_capture(cfg)
    p.wait_streaming()
    before = p.current_lsn()
    big = base64.b64encode(os.urandom(30000)).decode()
    p.sql(f"INSERT INTO users (user_id, email, note) VALUES "
          f"(gen_random_uuid(), 'big@example.com', '{big}')")
    p.sql("DO $$ BEGIN FOR i IN 1..1500 LOOP "
          "UPDATE products SET is_active = NOT is_active WHERE product_id = "
          "(SELECT product_id FROM products ORDER BY product_id LIMIT 1); COMMIT; END LOOP; END $$")
    rc = proc.wait(timeout=120)
    log = p.log("capture")
    assert rc != 0, log[-3000:]
    assert f'delivery to "{users}"' in log and "too large" in log, log[-3000:]
    confirmed = p.slot()[1]
    assert conftest.lsn_int(confirmed) <= conftest.lsn_int(before), \
        f"slot confirmed {confirmed}, past the refused record (written after {before})"
    # once Kafka takes it, the record arrives
    set_topic_config(p.env, users, "max.message.bytes", 1048588)
    proc = p.start_capture(cfg)
    p.wait_streaming()
    p.wait_confirmed(p.current_lsn(), timeout=120)
    msgs = dpcheck.read_topics(p.env, [users], timeout=120)
    notes = [json.loads(m.value())["payload"]["after"]["note"] for m in msgs if m.value()]
    assert big in notes


def committed_offsets(env, group, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dpcheck.kafka_conf(env, **{"group.id": group}))
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, i) for i in partitions], timeout=10)]
    finally:
        c.close()


def test_dead_letter_write_that_fails_holds_its_partition(pipeline):
    from confluent_kafka import Producer
    p = pipeline
    topic = p.topics["products"]
    dlq = f"dlq.{p.prefix}"  # missing until the test creates it
    good = json.dumps({"op": "c", "source": {"table": "products"}, "after": {"x": 1}}).encode()
    prod = Producer(dpcheck.kafka_conf(p.env))
    for v in (good, b"{poison", good, good):
        prod.produce(topic, value=v, partition=0)
    for v in (good, good):
        prod.produce(topic, value=v, partition=1)
    prod.flush(30)
    group = f"connect-arc-{p.id}"
    p.start("archive", p.archive_config(**{
        "flush.size": "1", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "kafka.topic.metadata.propagation.max.ms": "2000"}))
    # the archive says it waits at the record, or (the bug) commits past it
    dpcheck.wait_for(lambda: "the partition waits at it" in p.log("archive")
                     or committed_offsets(p.env, group, topic, [0])[0] > 1, 90,
                     what="the dead-letter write to fail")
    time.sleep(3)
    log = p.log("archive")
    assert f'dead-letter topic "{dlq}"' in log, log[-3000:]
    # nothing past the record is committed; the other partition went on
    dpcheck.wait_for(lambda: committed_offsets(p.env, group, topic, [1]) == [2], 60,
                     what="partition 1 to be committed")
    assert committed_offsets(p.env, group, topic, [0]) == [1]
    assert p.procs["archive"].poll() is None, "archive stopped:\n" + log[-3000:]
    # the topic appears: the archive heals by itself
    conftest.create_topics(p.env, [dlq], partitions=1)
    p.extra_topics.append(dlq)
    dpcheck.wait_for(lambda: committed_offsets(p.env, group, topic, [0]) == [4], 120,
                     what="partition 0 to go on past the record")
    p.drain_archive()
    _, table, _ = p.archive_rows()
    got = sorted((r["kafka_partition"], r["kafka_offset"]) for r in table.to_pylist())
    assert got == [(0, 0), (0, 2), (0, 3), (1, 0), (1, 1)], got
    dead = dpcheck.read_topics(p.env, [dlq], timeout=60)
    assert [m.value() for m in dead] == [b"{poison"]
