"""Fixtures for integration tests on the real stack (scripts/stack up).

Each pipeline test gets its own database (with the seed's schema), topics,
replication slot, publication, consumer group and S3 prefix, all with a
random suffix, so tests never see each other's data."""
import json
import os
import secrets
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import dpcheck  # noqa: E402

ROOT = dpcheck.ROOT


@pytest.fixture(scope="session", autouse=True)
def trust_the_stacks_ca():
    """The test process's HTTPS clients built on requests (the registry
    client of confluent-kafka) trust the stack's CA: requests lets
    REQUESTS_CA_BUNDLE, which this machine sets, override a session's own
    verify setting."""
    ca = ROOT / ".stack" / "tls" / "ca.pem"
    old = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca)
    yield
    if old is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = old


@pytest.fixture(scope="session")
def env():
    if not (ROOT / ".stack" / "env").exists():
        pytest.fail("the stack is not up: run scripts/stack up (make test does)")
    return dpcheck.process_env()


@pytest.fixture(scope="session")
def binary():
    b = ROOT / os.environ.get("DP_BUILD_DIR", "build") / "datapipe"
    assert b.exists(), f"{b} not built"
    return b


S3_KEYS = ("S3_ENDPOINT_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
           "AWS_CA_BUNDLE")


class StackEnv(dict):
    """The stack's S3 settings; repr hides the secret from test reports."""

    def __repr__(self):
        return repr({k: ("***" if "SECRET" in k else v) for k, v in self.items()})


@pytest.fixture(scope="module")
def stack():
    if not (ROOT / ".stack" / "env").exists():
        pytest.fail("the stack is not up: run scripts/stack up (make test does)")
    env = dpcheck.stack_env()
    return StackEnv({k: env[k] for k in S3_KEYS if k in env})


@pytest.fixture(scope="module")
def s3(stack):
    return dpcheck.s3_client(stack)


@pytest.fixture
def prefix(s3, stack, request):
    """A random key prefix for the test; its objects and unfinished uploads
    are removed afterwards."""
    p = f"it-{request.module.__name__.removeprefix('test_')[:12]}-{secrets.token_hex(6)}/"
    yield p
    bucket = stack["S3_BUCKET"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=p):
        objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objs:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
    for up in s3.list_multipart_uploads(Bucket=bucket, Prefix=p).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])


def admin(env):
    from confluent_kafka.admin import AdminClient
    return AdminClient(dpcheck.kafka_conf(env))


def kafka_keys(who, mechanism):
    """The kafka.* keys of a datapipe config that connect as one of the
    stack's principals (as config/*.json do), secrets through ${env:}."""
    w = who.upper()
    return {"kafka.bootstrap.servers": "${env:KAFKA_BOOTSTRAP_SERVERS}",
            "kafka.security.protocol": "SASL_SSL", "kafka.sasl.mechanism": mechanism,
            "kafka.sasl.username": f"${{env:KAFKA_{w}_USER}}",
            "kafka.sasl.password": f"${{env:KAFKA_{w}_PASSWORD}}",
            "kafka.ssl.ca.location": "${env:KAFKA_CA_FILE}"}


def registry_keys(url, sides=("key", "value")):
    """A converter side's schema registry at url, trusting the stack's CA."""
    out = {}
    for side in sides:
        out[f"{side}.converter.schema.registry.url"] = url
        out[f"{side}.converter.schema.registry.ssl.ca.location"] = "${env:REGISTRY_CA_FILE}"
    return out


def create_topics(env, names, partitions=6):
    from confluent_kafka.admin import NewTopic
    a = admin(env)  # must outlive its futures
    fs = a.create_topics([NewTopic(n, partitions, 3) for n in names], operation_timeout=30)
    for f in fs.values():
        f.result(timeout=60)
    wait_topics_ready(env, names, partitions)


def wait_topics_ready(env, names, partitions):
    """Every broker must know the topics with a leader per partition before
    a client starts: a consumer whose first metadata missed a just-created
    topic was seen to leave it unfetched for minutes (librdkafka 2.0.2)."""
    from confluent_kafka.admin import AdminClient
    clients = [AdminClient(dpcheck.kafka_conf(dict(env, KAFKA_BOOTSTRAP_SERVERS=b)))
               for b in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")]

    def ready():
        for c in clients:
            md = c.list_topics(timeout=10).topics
            for n in names:
                t = md.get(n)
                if not t or t.error or len(t.partitions) != partitions or \
                        any(pm.leader < 0 or pm.error for pm in t.partitions.values()):
                    return False
        return True
    dpcheck.wait_for(ready, 60, interval=0.2, what=f"topics {names} to be ready")
    time.sleep(1)


class Pipeline:
    """One isolated capture + archive pair and its database."""

    def __init__(self, env, binary, tmp_path, tables=("users", "products"), schema=None,
                 make_topics=True):
        """A database of its own with schema (default: the seed's) holding
        tables; make_topics grants the services and creates the tables'
        topics (a test of topic creation leaves both to capture)."""
        self.env = dict(env)
        self.binary = binary
        self.tmp = tmp_path
        self.id = secrets.token_hex(4)
        self.db = f"t_{self.id}"
        self.prefix = f"t{self.id}"
        self.topics = {t: f"cdc.{self.prefix}.{t}" for t in tables}
        self.dir = f"it-{self.id}"
        self.procs = {}
        self.extra_topics = []  # created by a test, deleted with the pipeline's own
        dpcheck.pg_rows(self.env, f"CREATE DATABASE {self.db}")
        self.sql(schema or (ROOT / "deploy/helm/data-ingestion-pipeline/files/sql/schema.sql").read_text())
        if make_topics:
            self.grant(settle=False)  # before the topics: waiting for them waits for the grants too
            create_topics(self.env, list(self.topics.values()))

    def grant(self, settle=True, **spec):
        """Grant capture's and the archive's principals what this pipeline's
        services need and no more (scripts/lib/stack_helper.py service_acls);
        spec overrides the names. The brokers learn grants from the metadata
        log a moment later: settle waits for that (a topic created afterwards
        and seen by every broker means the same)."""
        names = dict(capture=f"cap-{self.id}", topic_prefix=self.prefix,
                     routed_prefix=f"cdc.{self.prefix}.", archive=f"arc-{self.id}",
                     dlq=f"dlq.{self.prefix}", name_prefixes=True)
        names.update(spec)
        a = admin(self.env)
        dpcheck.grant_acls(a, dpcheck.service_acls(**names))
        if settle:
            time.sleep(1.5)

    def sql(self, text, fetch=False):
        import psycopg
        e = self.env
        with psycopg.connect(host=e["PGHOST"], port=e["PGPORT"], user=e["PGUSER"],
                             password=e["PGPASSWORD"], dbname=self.db, autocommit=True) as c:
            cur = c.execute(text)
            return cur.fetchall() if fetch else None

    def capture_config(self, **extra):
        cfg = {
            "name": f"cap-{self.id}",
            "database.hostname": "${env:PGHOST}", "database.port": "${env:PGPORT}",
            "database.user": "${env:PGUSER}", "database.password": "${env:PGPASSWORD}",
            "database.sslmode": "verify-full", "database.sslrootcert": "${env:PG_CA_FILE}",
            "database.dbname": self.db, "topic.prefix": self.prefix,
            "table.include.list": "public.users,public.products",
            "slot.name": f"slot_{self.id}", "publication.name": f"pub_{self.id}",
            "publication.autocreate.mode": "filtered",
            "transforms": "route",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": f"{self.prefix}\\.public\\.(.*)",
            "transforms.route.replacement": f"cdc.{self.prefix}.$1",
            **kafka_keys("capture", "SCRAM-SHA-512"),
        }
        cfg.update(extra)
        p = self.tmp / "capture.json"
        p.write_text(json.dumps({"name": cfg.pop("name"), "config": cfg}))
        return p

    def archive_config(self, **extra):
        # written as .properties: the second accepted format
        cfg = {
            "name": f"arc-{self.id}", "topics.regex": f"cdc\\.{self.prefix}\\..*",
            "topics.dir": self.dir, "s3.bucket.name": "${env:S3_BUCKET}",
            "store.url": "${env:S3_ENDPOINT_URL}", "s3.region": "${env:AWS_REGION}",
            "flush.size": "4", "rotate.interval.ms": "3000", "parquet.codec": "snappy",
            **kafka_keys("archive", "PLAIN"),
        }
        cfg.update(extra)
        p = self.tmp / "archive.properties"
        p.write_text("# generated by the test\n" + "".join(f"{k}={v}\n" for k, v in cfg.items()))
        return p

    def start(self, what, config):
        log = self.tmp / f"{what}.log"
        self.procs[what] = dpcheck.start([str(self.binary), what, "--config", str(config)], self.env, log)
        return self.procs[what]

    def log(self, what):
        p = self.tmp / f"{what}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def slot(self):
        r = dpcheck.pg_rows(self.env, "SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots "
                                      f"WHERE slot_name = 'slot_{self.id}'")
        return r[0] if r else None

    def start_capture(self, cfg):
        """Start capture; a slot still held by a killed process's walsender
        for a moment makes it exit at once, so try again (bounded)."""
        for _ in range(50):
            proc = self.start("capture", cfg)
            time.sleep(0.4)
            if proc.poll() is None:
                return proc
            time.sleep(0.2)
        raise AssertionError("capture would not start:\n" + self.log("capture")[-3000:])

    def dsn(self):
        e = self.env
        return (f"host={e['PGHOST']} port={e['PGPORT']} user={e['PGUSER']} "
                f"password={e['PGPASSWORD']} dbname={self.db}")

    def start_load(self, ledger, rate=2000, duration=60, seed=11, *extra):
        """datapipe load against this pipeline's database; its ledger (what
        it committed, per table and operation) goes to the file ledger, its
        output to load.log."""
        import subprocess
        log = open(self.tmp / "load.log", "ab")
        try:
            return subprocess.Popen([str(self.binary), "load", "--dsn", self.dsn(), "--rate", str(rate),
                                     "--duration", str(duration), "--report", str(ledger),
                                     "--seed", str(seed), *extra], env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()

    def check_against_ledger(self, ledger, exactly_once=True):
        """Read the topics with an independent read_committed consumer and
        count every change of the load's ledger: none missing; with
        exactly_once, none twice (tombstones included). Returns (events,
        duplicates, tombstones)."""
        made = json.loads(ledger.read_text())
        msgs = dpcheck.read_topics(self.env, list(self.topics.values()), timeout=300)
        events = [json.loads(m.value())["payload"] for m in msgs if m.value() is not None]
        distinct = {(e["source"]["table"], e["source"]["lsn"], e["op"]) for e in events}
        by_op = Counter((t, op) for t, _, op in distinct)
        for t in ("users", "products"):
            for op in ("c", "u", "d"):
                assert by_op[(t, op)] == made[t][op], (t, op, by_op[(t, op)], made[t][op])
        dups = len(events) - len(distinct)
        tombstones = sum(1 for m in msgs if m.value() is None)
        if exactly_once:
            assert dups == 0, f"{dups} duplicate events"
            assert tombstones == made["users"]["d"] + made["products"]["d"], \
                "tombstones sent twice or lost"
        return events, dups, tombstones

    def wait_streaming(self):
        cap = self.procs["capture"]
        dpcheck.wait_for(lambda: cap.poll() is not None or (self.slot() or (False,))[0], 60,
                         what="capture to stream")
        assert cap.poll() is None, "capture exited:\n" + self.log("capture")

    def current_lsn(self):
        return dpcheck.pg_rows(self.env, "SELECT pg_current_wal_lsn()::text")[0][0]

    def wait_confirmed(self, lsn, timeout=60):
        target = lsn_int(lsn)
        dpcheck.wait_for(lambda: self.slot() and lsn_int(self.slot()[1]) >= target, timeout,
                         what=f"slot to confirm {lsn}")

    def drain_archive(self, timeout=120):
        rc = dpcheck.stop(self.procs["archive"], signal.SIGUSR1, timeout=timeout)
        assert rc == 0, "archive failed:\n" + self.log("archive")

    def archive_rows(self):
        mirror = self.tmp / "mirror"
        keys = dpcheck.download_archive(self.env, self.dir + "/", mirror)
        table = dpcheck.read_archive(mirror, self.dir)
        return keys, table, mirror

    def close(self):
        for p in self.procs.values():
            dpcheck.stop(p, timeout=30)
        try:
            # every slot of the database (a test may add its own, e.g. Debezium's):
            # DROP DATABASE refuses while one exists
            dpcheck.pg_rows(self.env, "SELECT pg_drop_replication_slot(slot_name) "
                                      f"FROM pg_replication_slots WHERE database = '{self.db}'")
            dpcheck.pg_rows(self.env, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            a = admin(self.env)
            for f in a.delete_topics(list(self.topics.values()) + self.extra_topics,
                                     operation_timeout=30).values():
                f.result(timeout=60)
        except Exception as e:  # cleanup must not hide the test's own result
            print("cleanup:", e)


def first_message(consumer, seconds):
    """The first message (not an error event) consumer gets within seconds,
    or None; the consumer is closed either way."""
    try:
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = consumer.poll(1)
            if m is not None and not m.error():
                return m
        return None
    finally:
        consumer.close()


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


@pytest.fixture
def pipeline(env, binary, tmp_path):
    p = Pipeline(env, binary, tmp_path)
    yield p
    p.close()


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (seed 0x9747b28c), as the Java client computes it."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    i = 0
    while length - i >= 4:
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """Utils.toPositive(murmur2(key)) % partitions, Kafka's default for keyed records."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
