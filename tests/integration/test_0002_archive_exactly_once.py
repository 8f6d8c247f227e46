"""Exactly-once in storage: every (topic, partition, offset) in exactly one
row of exactly one object, across kill -9 (some mid-multipart-upload),
rebalances between two archivers, a quiet topic and a memory bound that
closes files early.

Records are Debezium-like JSON envelopes produced straight into Kafka with
confluent-kafka, each with a known id and record timestamp. The archive is
judged only with boto3 and pyarrow, over the whole prefix: each object holds
one topic-partition, is named by its first offset and lies under the hour of
its first record; no offset is missing, none is there twice."""
import collections
import os
import random
import re
import signal
import subprocess
import time

import pytest
from conftest import ROOT, create_topics

import dpcheck

HOUR_MS = 3600 * 1000


def add_topic(p, name, partitions):
    """A topic of its own for the test; Pipeline.close deletes it."""
    topic = f"cdc.{p.prefix}.{name}"
    create_topics(p.env, [topic], partitions=partitions)
    p.topics[name] = topic
    # create_topics waits until every broker knows it
    return topic


def envelope(rid, ts_ms, pad):
    """A Debezium envelope without the schema wrapper (the archiver reads both);
    json.dumps puts "id" first, which the checks rely on."""
    return ('{"before": null, "after": {"id": %d, "pad": "%s"}, "source": {"version": "2.7.0.Final", '
            '"connector": "postgresql", "name": "it", "ts_ms": %d, "snapshot": "false", "db": "it", '
            '"schema": "public", "table": "orders", "txId": %d, "lsn": %d}, "op": "c", "ts_ms": %d}'
            % (rid, pad, ts_ms, rid, rid * 8, ts_ms)).encode()


class Source:
    """A producer that remembers what landed where: expected[(topic, partition,
    offset)] = (id, record timestamp)."""

    def __init__(self, env, **conf):
        from confluent_kafka import Producer
        self.p = Producer(dpcheck.kafka_conf(env, **{"linger.ms": 20,
                           "enable.idempotence": True, **conf}))
        self.expected = {}
        self.errors = []
        self.next_id = 1

    def send(self, topic, partition, ts_ms, pad):
        rid = self.next_id
        self.next_id += 1

        def done(err, msg, rid=rid, ts_ms=ts_ms):
            if err:
                self.errors.append(err)
            else:
                self.expected[(msg.topic(), msg.partition(), msg.offset())] = (rid, ts_ms)
        while True:
            try:
                self.p.produce(topic, value=envelope(rid, ts_ms, pad), key=b"%d" % rid, partition=partition,
                               timestamp=ts_ms, on_delivery=done)
                break
            except BufferError:
                self.p.poll(0.1)
        self.p.poll(0)

    def flush(self):
        assert self.p.flush(120) == 0, "records not delivered"
        assert not self.errors, self.errors


def hour_start_ms(hours_ago):
    now = int(time.time() * 1000)
    return (now // HOUR_MS - hours_ago) * HOUR_MS


def big_pad(n):
    """n characters that snappy cannot compress, so files reach multipart sizes."""
    import base64
    return base64.b64encode(os.urandom(n * 3 // 4)).decode()


def start_archive(p, name, config, binary=None):
    log = p.tmp / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    proc = dpcheck.start([str(binary or p.binary), "archive", "--config", str(config)], p.env, log)
    proc.log_offset = offset  # log_of reads this process's lines only
    p.procs[name] = proc  # Pipeline.close stops it
    return proc


def log_of(p, name):
    f = p.tmp / f"{name}.log"
    if not f.exists():
        return ""
    with open(f, "rb") as fh:
        fh.seek(getattr(p.procs.get(name), "log_offset", 0))
        return fh.read().decode(errors="replace")


def wait_log(p, name, needle, timeout=60, count=1):
    proc = p.procs[name]
    dpcheck.wait_for(lambda: proc.poll() is not None or log_of(p, name).count(needle) >= count, timeout,
                     what=f"{needle!r} in {name}'s log")
    assert proc.poll() is None, f"{name} exited:\n" + log_of(p, name)[-4000:]


def kill9(p, name):
    proc = p.procs[name]
    assert proc.poll() is None, f"{name} died on its own:\n" + log_of(p, name)[-4000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def drain(p, name, timeout=180):
    # SIGUSR1 before its handler is installed would kill it: wait for the start line
    wait_log(p, name, "archiving")
    rc = dpcheck.stop(p.procs[name], signal.SIGUSR1, timeout=timeout)
    assert rc == 0, f"{name} failed ({rc}):\n" + log_of(p, name)[-4000:]


def multipart_uploads(p):
    s3 = dpcheck.s3_client(p.env)
    r = s3.list_multipart_uploads(Bucket=p.env["S3_BUCKET"], Prefix=p.dir + "/")
    return {u["UploadId"]: u["Key"] for u in r.get("Uploads", [])}


def cleanup_s3(p):
    """Abort the uploads kill -9 left behind and delete the test's objects."""
    s3 = dpcheck.s3_client(p.env)
    for uid, key in multipart_uploads(p).items():
        s3.abort_multipart_upload(Bucket=p.env["S3_BUCKET"], Key=key, UploadId=uid)
    keys = dpcheck.list_keys(p.env, p.dir + "/")
    for i in range(0, len(keys), 500):
        s3.delete_objects(Bucket=p.env["S3_BUCKET"],
                          Delete={"Objects": [{"Key": k} for k in keys[i:i + 500]], "Quiet": True})


def check_exactly_once(p, expected):
    """Read every object under the test's prefix with boto3 + pyarrow and
    compare with what was produced. Returns the keys."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    s3 = dpcheck.s3_client(p.env)
    keys = dpcheck.list_keys(p.env, p.dir + "/")
    assert not dpcheck.check_key_layout(keys, p.dir), dpcheck.check_key_layout(keys, p.dir)[:5]
    seen = collections.Counter()
    for k in keys:
        m = dpcheck.KEY_RE.match(k)
        body = s3.get_object(Bucket=p.env["S3_BUCKET"], Key=k)["Body"].read()
        t = pq.read_table(pa.BufferReader(body),
                          columns=["kafka_topic", "kafka_partition", "kafka_offset", "after_data"])
        topics, parts = set(t.column("kafka_topic").to_pylist()), set(t.column("kafka_partition").to_pylist())
        assert topics == {m["topic"]} and parts == {int(m["partition"])}, (k, topics, parts)
        offsets = t.column("kafka_offset").to_pylist()
        assert offsets and min(offsets) == int(m["offset"]), f"{k} is not named by its first offset {min(offsets)}"
        first = expected.get((m["topic"], int(m["partition"]), min(offsets)))
        assert first, f"{k}: offset {min(offsets)} was never produced"
        g = time.gmtime(first[1] / 1000)
        assert (int(m["year"]), int(m["month"]), int(m["day"]), int(m["hour"])) == \
            (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour), f"{k} is not under the hour of its first record"
        for off, after in zip(offsets, t.column("after_data").to_pylist()):
            key = (m["topic"], int(m["partition"]), off)
            seen[key] += 1
            want = expected.get(key)
            assert want and after.startswith('{"id": %d,' % want[0]), (k, off, after[:40])
    dups = sorted(k for k, c in seen.items() if c > 1)
    missing = sorted(set(expected) - set(seen))
    assert not dups, f"{len(dups)} offsets archived twice, e.g. {dups[:5]}"
    assert not missing, f"{len(missing)} offsets missing, e.g. {missing[:5]}"
    assert sum(seen.values()) == len(expected)
    return keys


# ---- kill -9 under load -----------------------------------------------------

KILLS = 22
BIG = 64 * 1024  # characters of incompressible after_data per big record


def test_kill9_at_random_moments_leaves_each_offset_in_exactly_one_object(pipeline):
    """22 kill -9 at random moments while records keep arriving: partitions
    0-1 carry 64 KiB records in 100-record files (6.4 MiB: multipart at the
    5 MiB part size, parts streamed as row groups fill), the other ten small
    records over seven hours. Every fourth kill waits for a multipart upload
    of the running archiver to be in progress, so some kills land mid-upload;
    their uploads must never become objects."""
    p = pipeline
    rnd = random.Random(int(p.id, 16))
    topic = add_topic(p, "orders", 12)
    src = Source(p.env)
    base = hour_start_ms(8)
    # per partition, its records in order: (timestamp, pad)
    plan = {}
    for part in (0, 1):  # 100 big records per hour: files of exactly 100 records
        plan[part] = [(base + (j // 100) * HOUR_MS + j, None) for j in range(200)]
    for part in range(2, 12):  # 1,960 small records over seven hours
        plan[part] = [(base + j * 7 * HOUR_MS // 1960, "s" * rnd.randint(50, 400)) for j in range(1960)]
    rounds = KILLS + 1

    def produce_round(r):
        for part, recs in plan.items():
            lo, hi = len(recs) * r // rounds, len(recs) * (r + 1) // rounds
            for ts, pad in recs[lo:hi]:
                src.send(topic, part, ts, pad if pad is not None else big_pad(BIG))
        src.flush()

    cfg = p.archive_config(**{
        "topics.regex": re.escape(topic), "flush.size": "100", "rotate.interval.ms": "-1",
        "s3.part.size": str(5 << 20), "datapipe.row.group.bytes": "65536",
        # static membership: a restart takes over its predecessor's partitions at
        # once instead of waiting for the dead member's session to time out
        "kafka.group.instance.id": f"arc-{p.id}", "kafka.session.timeout.ms": "10000"})
    known_uploads = {}
    mid_upload = 0
    t0 = time.monotonic()
    for r in range(KILLS):
        produce_round(r)
        start_archive(p, "archive", cfg)
        if r % 4 == 3:
            # wait for this process to be inside a multipart upload, then kill
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and not set(multipart_uploads(p)) - set(known_uploads):
                time.sleep(0.05)
        else:
            time.sleep(rnd.uniform(0.3, 2.5))
        live = set(multipart_uploads(p)) - set(known_uploads)
        kill9(p, "archive")
        after = multipart_uploads(p)
        if live & set(after):  # begun by the killed process and never completed
            mid_upload += 1
        known_uploads.update(after)
    produce_round(KILLS)
    start_archive(p, "archive", cfg)
    drain(p, "archive")
    elapsed = time.monotonic() - t0
    keys = check_exactly_once(p, src.expected)
    sizes = [o["Size"] for o in dpcheck.s3_client(p.env).list_objects_v2(
        Bucket=p.env["S3_BUCKET"], Prefix=p.dir + "/", MaxKeys=1000)["Contents"]]
    print(f"\nkill -9: {KILLS} kills, {mid_upload} mid-multipart-upload, {len(known_uploads)} uploads "
          f"left incomplete, {len(keys)} objects ({sum(s > 5 << 20 for s in sizes)} multipart), "
          f"{len(src.expected)} records, {elapsed:.0f} s")
    assert mid_upload >= 1, "no kill landed inside a multipart upload"
    assert any(s > 5 << 20 for s in sizes), "no object was big enough for a multipart upload"
    cleanup_s3(p)


# ---- two archivers in one group ---------------------------------------------

@pytest.mark.parametrize("strategy", ["range,roundrobin", "cooperative-sticky"])
def test_two_archivers_in_one_group_survive_kill9_and_rebalances(pipeline, strategy):
    """Two archivers share a group; each is killed with -9 once while the other
    runs, and restarted. The survivor takes over after the session timeout
    (revoking drops its open files), the restart takes its share back; files
    rotate on the wall clock, so the replayed files end elsewhere than the
    originals. Still every offset once, with eager and with cooperative
    rebalancing."""
    p = pipeline
    rnd = random.Random(int(p.id, 16) + 1)
    topic = add_topic(p, "orders", 12)
    src = Source(p.env)
    base = hour_start_ms(6)
    per_part = 800
    chunks = 16

    def produce_chunk(c):
        for part in range(12):
            for j in range(per_part * c // chunks, per_part * (c + 1) // chunks):
                src.send(topic, part, base + j * 5 * HOUR_MS // per_part, "x" * rnd.randint(20, 300))
        src.flush()

    cfg = p.archive_config(**{
        "topics.regex": re.escape(topic), "flush.size": "60", "rotate.interval.ms": "1500",
        "kafka.session.timeout.ms": "6000", "kafka.heartbeat.interval.ms": "1000",
        "kafka.partition.assignment.strategy": strategy})
    c = 0
    produce_chunk(c)
    start_archive(p, "a", cfg)
    start_archive(p, "b", cfg)
    wait_log(p, "a", "assigned")
    wait_log(p, "b", "assigned")
    for victim, other in (("b", "a"), ("a", "b")):
        for _ in range(2):
            c += 1
            produce_chunk(c)
            time.sleep(rnd.uniform(0.2, 1.0))
        kill9(p, victim)
        # the survivor gets every partition once the dead member's session expires
        n = log_of(p, other).count("assigned")
        for _ in range(2):
            c += 1
            produce_chunk(c)
        wait_log(p, other, "assigned", timeout=30, count=n + 1)  # all 12 (eager) or the dead one's
        start_archive(p, victim, cfg)
        wait_log(p, victim, "assigned", timeout=30)
        c += 1
        produce_chunk(c)
    while c + 1 < chunks:
        c += 1
        produce_chunk(c)
    drain(p, "a")
    drain(p, "b")
    keys = check_exactly_once(p, src.expected)
    assert len(src.expected) == 12 * per_part
    print(f"\ntwo archivers ({strategy}): 2 kills, {len(keys)} objects, {len(src.expected)} records")
    cleanup_s3(p)


# ---- tasks.max: parallel consumers in one process ----------------------------

def group_members(p, group):
    """{client id: [partitions]} of the consumer group's members, as the brokers see them."""
    from conftest import admin
    a = admin(p.env)  # kept alive until the answer is in
    desc = a.describe_consumer_groups([group])[group].result(timeout=20)
    return {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions) for m in desc.members}


def test_tasks_max_runs_parallel_consumers_and_keeps_exactly_once(pipeline):
    """tasks.max=3: one process, three members of the group (seen by the
    brokers), each with its own partitions and files; kill -9 of the process
    mid-stream and a restart still leave every offset in exactly one object."""
    p = pipeline
    topic = add_topic(p, "orders", 6)
    src = Source(p.env)
    base = hour_start_ms(3)
    for part in range(6):
        for j in range(400):
            src.send(topic, part, base + j * 2 * HOUR_MS // 400, "t" * (j % 97))
    src.flush()
    cfg = p.archive_config(**{"topics.regex": re.escape(topic), "flush.size": "50",
                              "rotate.interval.ms": "1000", "tasks.max": "3",
                              "kafka.session.timeout.ms": "6000", "kafka.heartbeat.interval.ms": "1000"})
    start_archive(p, "t", cfg)
    wait_log(p, "t", "with 3 consumers")
    wait_log(p, "t", "assigned", count=6)
    group = f"connect-arc-{p.id}"  # archive_config's name
    # three members, each with its share: every partition once, to one of the threads
    dpcheck.wait_for(lambda: sorted(sum(group_members(p, group).values(), [])) == list(range(6)) and
                     len(group_members(p, group)) == 3, 30, what="three members sharing the six partitions")
    members = group_members(p, group)
    assert all(re.fullmatch(r".+-[012]", i) and parts for i, parts in members.items()), members
    time.sleep(1.5)
    kill9(p, "t")
    for part in range(6):
        for j in range(400, 600):
            src.send(topic, part, base + j * 2 * HOUR_MS // 400, "u" * (j % 89))
    src.flush()
    start_archive(p, "t", cfg)
    drain(p, "t")
    check_exactly_once(p, src.expected)
    assert len(src.expected) == 6 * 600
    cleanup_s3(p)


# ---- an object at the key already: adopted, never replaced ---------------------

def test_an_existing_object_is_adopted_not_overwritten(pipeline):
    """A writer that does not know about us: archiver A archives a topic with
    flush.size 100 and stops; archiver B, in another group (so it starts at
    offset 0 again) with the same topics.dir and flush.size 70, cuts its files
    elsewhere. Each of B's uploads finds A's object at its key (If-None-Match),
    adopts it and goes on after the object's last offset: the bucket keeps
    A's objects untouched and every offset once. Overwriting instead would
    leave A's first object cut to 70 rows and the rest of A's objects
    overlapping B's. This is what a zombie archiver (one that lost its
    partitions without noticing) and a replay after kill -9 both meet."""
    p = pipeline
    topic = add_topic(p, "orders", 2)
    src = Source(p.env)
    base = hour_start_ms(1)
    for part in range(2):
        for j in range(500):
            src.send(topic, part, base + j, "z" * (j % 50))
    src.flush()
    s3 = dpcheck.s3_client(p.env)
    common = {"topics.regex": re.escape(topic), "rotate.interval.ms": "600000"}
    start_archive(p, "a", p.archive_config(**common, **{"flush.size": "100"}))
    drain(p, "a")
    keys_a = dpcheck.list_keys(p.env, p.dir + "/")
    assert len(keys_a) == 10, keys_a
    tags = {k: s3.head_object(Bucket=p.env["S3_BUCKET"], Key=k)["ETag"] for k in keys_a}
    start_archive(p, "b", p.archive_config(**common, **{"flush.size": "70", "name": f"arc-{p.id}-b"}))
    drain(p, "b")
    assert log_of(p, "b").count("exists already") == 10, log_of(p, "b")[-3000:]
    assert dpcheck.list_keys(p.env, p.dir + "/") == keys_a
    assert {k: s3.head_object(Bucket=p.env["S3_BUCKET"], Key=k)["ETag"] for k in keys_a} == tags
    check_exactly_once(p, src.expected)
    cleanup_s3(p)


def test_an_object_adopted_at_an_hour_boundary_loses_no_record(pipeline):
    """The record that closes a file because it belongs to the next hour
    must wait when that close adopts an existing, shorter object and reads
    the partition again from the object's end: found by the fault suite
    (all brokers stopped across 14:00 lost the records between the adopted
    object's end and the first record of the new hour). Archiver A cuts
    files of 5 records; B, in another group, keeps one file per hour, so
    its first close (at the first record of the second hour) meets A's
    first object (offsets 0..4) and must read 5..9 again."""
    p = pipeline
    topic = add_topic(p, "hours", 1)
    src = Source(p.env)
    base = hour_start_ms(2)
    for j in range(10):
        src.send(topic, 0, base + j, "h" * 10)
    for j in range(3):
        src.send(topic, 0, base + HOUR_MS + j, "n" * 10)
    src.flush()
    s3 = dpcheck.s3_client(p.env)
    common = {"topics.regex": re.escape(topic), "rotate.interval.ms": "600000"}
    start_archive(p, "a", p.archive_config(**common, **{"flush.size": "5"}))
    drain(p, "a")
    first = [k for k in dpcheck.list_keys(p.env, p.dir + "/") if k.endswith("+0000000000.snappy.parquet")]
    assert len(first) == 1, first
    for k in dpcheck.list_keys(p.env, p.dir + "/"):  # only A's first object stays
        if k not in first:
            s3.delete_object(Bucket=p.env["S3_BUCKET"], Key=k)
    start_archive(p, "b", p.archive_config(**common, **{"flush.size": "100", "name": f"arc-{p.id}-b"}))
    drain(p, "b")
    assert "exists already" in log_of(p, "b"), log_of(p, "b")[-3000:]
    check_exactly_once(p, src.expected)
    cleanup_s3(p)


# ---- low traffic ------------------------------------------------------------

def test_single_record_reaches_s3_within_schedule_interval_and_once(pipeline):
    """One record on a quiet topic is in S3 within rotate.schedule.interval.ms
    of wall-clock time; a restart after that, and a kill -9 before the next
    record's file closed, add no second copy."""
    p = pipeline
    topic = add_topic(p, "quiet", 1)
    src = Source(p.env)
    interval = 4000
    cfg = p.archive_config(**{"topics.regex": re.escape(topic), "flush.size": "1000",
                              "rotate.interval.ms": "-1", "rotate.schedule.interval.ms": str(interval),
                              "kafka.session.timeout.ms": "6000"})

    def wait_objects(n, timeout):
        t = time.monotonic()
        dpcheck.wait_for(lambda: len(dpcheck.list_keys(p.env, p.dir + "/")) >= n, timeout, interval=0.1,
                         what=f"{n} objects")
        return time.monotonic() - t

    start_archive(p, "archive", cfg)
    wait_log(p, "archive", "assigned")
    time.sleep(1)  # fetching
    src.send(topic, 0, int(time.time() * 1000), "one")
    src.flush()
    took = wait_objects(1, 30)
    assert took <= interval / 1000 + 1.5, f"the record took {took:.1f} s to reach S3"
    print(f"\nlow traffic: one record in S3 after {took:.1f} s (rotate.schedule.interval.ms={interval})")
    # committed: a restart does not write it again
    kill9(p, "archive")
    start_archive(p, "archive", cfg)
    wait_log(p, "archive", "assigned", timeout=30)
    src.send(topic, 0, int(time.time() * 1000), "two")
    src.flush()
    wait_objects(2, 30)
    # a record whose file is still open when the archiver dies is archived after the restart
    src.send(topic, 0, int(time.time() * 1000), "three")
    src.flush()
    time.sleep(0.3)
    kill9(p, "archive")
    start_archive(p, "archive", cfg)
    wait_objects(3, 30)
    drain(p, "archive")
    keys = check_exactly_once(p, src.expected)
    assert len(keys) == 3 and len(src.expected) == 3
    cleanup_s3(p)


# ---- bounded memory ---------------------------------------------------------

PARTS = 200
PER_PART = 100
VALUE = 4 * 1024  # characters of after_data per record: 400 KiB of row data per partition
BOUND = 16 << 20  # datapipe.max.buffer.bytes
ALLOWANCE = 80 << 20  # see the test's docstring


def plain_binary(binary):
    """The non-sanitized binary (AddressSanitizer's shadow memory and
    quarantine make RSS meaningless): $DP_PLAIN_BUILD_DIR, default build/,
    which `make test` builds beside build-asan. None if it is missing, stale
    (no datapipe.max.buffer.bytes) or sanitized after all."""
    b = ROOT / os.environ.get("DP_PLAIN_BUILD_DIR", "build") / "datapipe"
    if not b.exists() or b"__asan_init" in b.read_bytes():
        return None
    r = subprocess.run([str(b), "config-docs"], capture_output=True, text=True, timeout=30)
    return b if "datapipe.max.buffer.bytes" in r.stdout else None


def test_memory_bound_holds_over_200_open_partitions(pipeline):
    """A backlog over 200 partitions, each in its own hour (24 hour paths), one
    file per partition (flush.size far away): without a bound the archiver
    holds all 200 files, 78 MiB of row data, at once. With
    datapipe.max.buffer.bytes = 16 MiB it closes the largest open file early,
    again and again, and its peak RSS (VmHWM) stays under the bound plus a
    fixed allowance of 80 MiB; exactly-once still holds.

    librdkafka's prefetch is bounded by its own key, set here to 1 MiB
    (kafka.queued.max.messages.kbytes; the archiver's default is 8 MiB).
    The allowance, measured with the plain build on this workload: with the
    bound at its 1 MiB minimum the peak is 65-68 MiB (binary, libc, curl,
    librdkafka with 200 partitions, its queue and fetch buffers, 200 empty
    writers); at 16 MiB, 77-79 MiB; without a bound 110-113 MiB, so the
    limit, 96 MiB, separates the two. The allowance is that floor plus
    12 MiB for the writers' growth by doubling, the page scratch of a
    flushing file, the check after each 1/32 of the bound, and noise.
    (Not ru_maxrss: Linux carries the forking parent's peak into it.)"""
    p = pipeline
    topic = add_topic(p, "wide", PARTS)
    src = Source(p.env, **{"compression.type": "zstd", "linger.ms": 50, "batch.size": 1 << 20})
    base = hour_start_ms(30)
    # hex: half of it survives compression, in Kafka (zstd) as in Parquet
    # (snappy), as with real row images; a slice per record, so no two repeat
    noise = os.urandom(VALUE * 8).hex()
    rnd = random.Random(1)
    for j in range(PER_PART):
        for part in range(PARTS):
            at = rnd.randrange(0, len(noise) - VALUE)
            src.send(topic, part, base + (part % 24) * HOUR_MS + j * 1000, noise[at:at + VALUE])
    src.flush()
    plain = plain_binary(p.binary)
    cfg = p.archive_config(**{"topics.regex": re.escape(topic), "flush.size": "100000",
                              "rotate.interval.ms": "-1", "s3.part.size": str(5 << 20),
                              "datapipe.max.buffer.bytes": str(BOUND), "datapipe.log.level": "debug",
                              "kafka.queued.max.messages.kbytes": "1024"})
    t0 = time.monotonic()
    proc = start_archive(p, "archive", cfg, binary=plain)
    wait_log(p, "archive", "archiving")
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 240
    peak = 0
    while proc.poll() is None:  # VmHWM only grows: its last reading is the peak
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                peak = max([peak] + [int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM:")])
        except OSError:
            pass  # exited between poll and open
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("archive did not drain in 240 s:\n" + log_of(p, "archive")[-4000:])
        time.sleep(0.02)
    assert proc.returncode == 0, log_of(p, "archive")[-4000:]
    elapsed = time.monotonic() - t0
    keys = check_exactly_once(p, src.expected)
    row_data = PARTS * PER_PART * VALUE
    print(f"\nmemory: {PARTS} partitions, {row_data / 2**20:.0f} MiB of after_data, bound "
          f"{BOUND >> 20} MiB: {len(keys)} objects, peak RSS {peak / 2**20:.1f} MiB "
          f"({'plain' if plain else 'sanitized, not asserted'} build), {elapsed:.1f} s")
    early = log_of(p, "archive").count("above datapipe.max.buffer.bytes")
    print(f"memory: {early} files closed early")
    assert early > 0, "the bound never closed a file early"
    assert row_data > 4 * BOUND, "the data would fit under the bound: the test has no teeth"
    if plain:
        assert peak < BOUND + ALLOWANCE, f"peak RSS {peak / 2**20:.1f} MiB"
    cleanup_s3(p)
