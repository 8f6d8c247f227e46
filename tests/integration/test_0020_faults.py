"""The fault suite: each fault of the reliability promise, under load from
`datapipe load`, on the real stack, with capture (exactly-once) and archive
running on an isolated pipeline. After each, independent readers count the
load's ledger in Kafka (confluent-kafka, read_committed) and in S3 (boto3 +
pyarrow): every change once, nothing lost, nothing duplicated; the services
recovered by themselves (no restart by the test, except where the fault is
the kill itself).

DP_FAULTS=reduced (the default, what `make test` runs): short outages and
loads, every fault covered. DP_FAULTS=full (`make test-faults`): the
outages the reliability promise names (60 s), heavier load, and the table
written to docs/RELIABILITY.md (DP_FAULTS_REPORT). Time to recover is from
the end of the fault until capture confirmed past the WAL written by then
and the archive committed past where it stood."""
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

import conftest
import dpcheck

FULL = os.environ.get("DP_FAULTS", "reduced") == "full"
RATE = 1000 if FULL else 300              # changes/s, from before the fault until after recovery
WARMUP_S = 10 if FULL else 4
OUTAGE_S = 60 if FULL else 8              # servers down
SHORT_S = 20 if FULL else 5               # a restart, a cut
KILLS = 10 if FULL else 3
# the bound on recovery: the slowest seen is 32 s (docs/RELIABILITY.md); a
# failure found sooner leaves the rest of the suite its time
RECOVER_S = 600 if FULL else 240
RESULTS = []


# ---- a real TCP fault proxy ----------------------------------------------------


class Toxiproxy:
    """toxiproxy-server (scripts/setup toxiproxy) on a free loopback port,
    and its HTTP API: proxies from a local port to an upstream, which a test
    disables (every connection cut, new ones refused) and enables again."""

    def __init__(self, tmp):
        binary = dpcheck.ROOT / ".cache" / "bin" / "toxiproxy-server"
        assert binary.exists(), "toxiproxy is not installed (scripts/setup toxiproxy)"
        self.port = dpcheck.free_port()
        self.proc = dpcheck.start([str(binary), "-host", "127.0.0.1", "-port", str(self.port)],
                                  dict(os.environ), tmp / "toxiproxy.log")
        dpcheck.wait_for(lambda: self._call("GET", "/version") is not None, 30, what="toxiproxy")

    def _call(self, method, path, body=None):
        import urllib.error
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.read()
        except (urllib.error.URLError, ConnectionError):
            return None

    def proxy(self, name, upstream, port=None):
        """A proxy to upstream ("host:port") on port (a free one by
        default); returns its local port."""
        port = port or dpcheck.free_port()
        assert self._call("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{port}",
                                               "upstream": upstream, "enabled": True}) is not None
        return port

    def enabled(self, name, on):
        assert self._call("POST", f"/proxies/{name}", {"enabled": on}) is not None

    def close(self):
        dpcheck.stop(self.proc, timeout=10)


# ---- measuring one fault -------------------------------------------------------


def committed_sum(env, group, topics):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dpcheck.kafka_conf(env, **{"group.id": group}))
    try:
        tps = [TopicPartition(t, i) for t in topics for i in range(6)]
        return sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10))
    except Exception:  # noqa: BLE001 - Kafka may still be coming back
        return -1
    finally:
        c.close()


WITNESS_OPS = {"INSERT": "c", "UPDATE": "u", "DELETE": "d"}


def witness(p):
    """What PostgreSQL committed, from the WAL itself: the changes a second
    logical slot (test_decoding, created before the load started) holds,
    as a set of (table, lsn, op). Independent of capture and of the load."""
    rows = p.sql(f"SELECT lsn::text, data FROM pg_logical_slot_peek_changes('witness_{p.id}', NULL, NULL) "
                 "WHERE data LIKE 'table public.%'", fetch=True)
    truth = set()
    for lsn, data in rows:
        table, op = data[len("table public."):].split(":", 2)[:2]
        truth.add((table, conftest.lsn_int(lsn), WITNESS_OPS[op.strip()]))
    return truth


def check_ledger(made, truth):
    """The load's ledger must agree with the WAL: it decides lost and
    duplicated, so a miscounted in-doubt transaction is a failure too."""
    by_op = Counter((t, op) for t, _, op in truth)
    off = {f"{t}.{op}": made[t][op] - by_op[(t, op)] for t in ("users", "products") for op in "cud"
           if made[t][op] != by_op[(t, op)]}
    assert not off, f"the load's ledger disagrees with the WAL (ledger minus WAL): {off}"


def count(truth, changes, where):
    """(lost, duplicated) of the committed changes truth among changes, a
    list of (table, lsn, op) as a reader found them; prints what differs."""
    found = Counter(changes)
    missing = sorted(truth - found.keys(), key=lambda c: c[1])
    extra = sorted(found.keys() - truth, key=lambda c: c[1])
    show = lambda cs: [f"{t}.{op}@{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}" for t, lsn, op in cs[:10]]  # noqa: E731
    if missing:
        print(f"{where}: missing {len(missing)}: {show(missing)}")
    if extra:
        print(f"{where}: not committed in PostgreSQL {len(extra)}: {show(extra)}")
    return len(missing) + len(extra), sum(n - 1 for n in found.values())


class Run:
    """One isolated pipeline under load, a fault injected into it, and the
    independent count afterwards."""

    def __init__(self, p, capture_extra=None, archive_extra=None):
        self.p = p
        self.cport, self.aport = dpcheck.free_port(), dpcheck.free_port()
        self.ccfg = p.capture_config(**{"snapshot.mode": "no_data", "datapipe.metrics.port": str(self.cport),
                                        **(capture_extra or {})})
        self.acfg = p.archive_config(**{"datapipe.metrics.port": str(self.aport), "flush.size": "500",
                                        "rotate.interval.ms": "2000", **(archive_extra or {})})
        self.group = f"connect-arc-{p.id}"
        self.kafka_check = True  # False: the topics are not JSON (Avro), count in S3 only

    def start(self):
        p = self.p
        p.start_capture(self.ccfg)
        p.wait_streaming()
        p.start("archive", self.acfg)
        p.sql(f"SELECT pg_create_logical_replication_slot('witness_{p.id}', 'test_decoding')")
        self.ledger = p.tmp / "ledger.json"
        # until stopped: the load goes on through the fault and the recovery
        self.load = p.start_load(self.ledger, RATE, 0, 5, "--synchronous-commit", "on")
        time.sleep(WARMUP_S)

    def recovered(self):
        """Seconds from now (the fault's end) until capture confirmed the
        WAL written by now and the archive committed past where it is."""
        p, t0 = self.p, time.monotonic()
        lsn = conftest.lsn_int(p.current_lsn())
        before = committed_sum(p.env, self.group, p.topics.values())
        cap = arc = None
        deadline = t0 + RECOVER_S
        while (cap is None or arc is None) and time.monotonic() < deadline:
            if cap is None and p.slot() and conftest.lsn_int(p.slot()[1]) >= lsn:
                cap = time.monotonic() - t0
            if arc is None and committed_sum(p.env, self.group, p.topics.values()) > before:
                arc = time.monotonic() - t0
            for what in ("capture", "archive"):  # a service that ended heals nothing
                proc = p.procs.get(what)
                assert proc is None or proc.poll() is None, \
                    f"{what} exited ({proc.returncode}) during recovery:\n" + p.log(what)[-3000:]
            time.sleep(0.25)
        assert cap is not None, f"capture did not recover within {RECOVER_S} s:\n" + p.log("capture")[-3000:]
        assert arc is not None, f"archive did not recover within {RECOVER_S} s:\n" + p.log("archive")[-3000:]
        return max(cap, arc)

    def finish(self, name, recovery_s, kafka_check=True):
        p = self.p
        time.sleep(2)
        assert dpcheck.stop(self.load, signal.SIGINT, timeout=60) == 0, (p.tmp / "load.log").read_text()[-3000:]
        for what in ("capture", "archive"):
            assert p.procs[what].poll() is None, f"{what} stopped:\n" + p.log(what)[-3000:]
        p.wait_confirmed(p.current_lsn(), timeout=300)
        made = json.loads(self.ledger.read_text())
        truth = witness(p)
        k_lost = k_dup = None
        if kafka_check:
            msgs = dpcheck.read_topics(p.env, list(p.topics.values()), timeout=300)
            events = [json.loads(m.value())["payload"] for m in msgs if m.value() is not None]
            k_lost, k_dup = count(truth, [(e["source"]["table"], e["source"]["lsn"], e["op"]) for e in events],
                                 "kafka")
        p.drain_archive(timeout=300)
        _, table, _ = p.archive_rows()
        rows = table.to_pylist() if table is not None else []
        s_lost, s_dup = count(truth, [(r["table_name"], r["lsn"], r["operation_type"]) for r in rows], "s3")
        offsets = Counter((r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]) for r in rows)
        s_dup = max(s_dup, sum(v - 1 for v in offsets.values()))
        RESULTS.append({"fault": name, "made": made["total"], "kafka_lost": k_lost, "kafka_dup": k_dup,
                        "s3_lost": s_lost, "s3_dup": s_dup, "recovery_s": recovery_s})
        print(f"{name}: {made['total']} changes made; kafka lost {k_lost} dup {k_dup}; "
              f"s3 lost {s_lost} dup {s_dup}; recovered in {recovery_s:.1f} s")
        check_ledger(made, truth)
        assert (k_lost or 0) == 0 and (k_dup or 0) == 0, f"kafka: {k_lost} lost, {k_dup} duplicated"
        assert s_lost == 0 and s_dup == 0, f"s3: {s_lost} lost, {s_dup} duplicated"


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if not RESULTS:
        return
    path = os.environ.get("DP_FAULTS_REPORT") or str(dpcheck.ROOT / "build" / "RELIABILITY-reduced.md")
    cell = lambda v: "-" if v is None else str(v)  # noqa: E731
    lines = [
        "# Reliability: faults under load",
        "",
        ("Written by `make test-faults` (tests/integration/test_0020_faults.py, DP_FAULTS=full). "
         if FULL else "Written by the shortened fault suite that `make test` runs "
         "(tests/integration/test_0020_faults.py, DP_FAULTS=reduced: 8 s outages, 3 kills); "
         "`make test-faults` runs it at full length. ") + "Each fault runs on its own pipeline "
        f"(capture with exactly-once, archive) under `datapipe load` at {RATE} changes/s from "
        "before the fault until both services recovered; independent readers count afterwards: Kafka with "
        "confluent-kafka (read_committed), S3 with boto3 and pyarrow, against what PostgreSQL "
        "committed, read from the WAL by a second slot (test_decoding) made before the load "
        "started; the load's ledger must agree with it too. Lost counts committed changes missing "
        "(or changes found that were not committed); duplicated counts changes found more than once. Time to recover "
        "runs from the end of the fault until capture confirmed the WAL written by then and the "
        "archive committed past where it stood.",
        "",
        "| fault | changes made | lost (Kafka) | duplicated (Kafka) | lost (S3) | duplicated (S3) | time to recover |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in RESULTS:
        lines.append(f"| {r['fault']} | {r['made']} | {cell(r['kafka_lost'])} | {cell(r['kafka_dup'])} | "
                     f"{r['s3_lost']} | {r['s3_dup']} | {r['recovery_s']:.1f} s |")
    lines += ["", "Disk full on the archive's temporary space: not applicable, the archive keeps no "
              "temporary files (Parquet is written into the streamed S3 upload, bounded by "
              "`datapipe.max.buffer.bytes`).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ---- the faults ------------------------------------------------------------------


def outage(r, servers, sig, seconds, name, meanwhile=None):
    """Run r under load, stop servers of the stack with signal sig for
    seconds (calling meanwhile() at the start of it), bring them back, and
    count."""
    r.start()
    try:
        dpcheck.stack("stop", ",".join(servers), sig)
        if meanwhile:
            meanwhile()
        time.sleep(seconds)
    finally:
        dpcheck.stack("up")
    r.finish(name, r.recovered(), kafka_check=r.kafka_check)


def test_kafka_broker_killed_and_restarted(pipeline):
    outage(Run(pipeline), ["kafka-2"], "KILL", SHORT_S, "kill -9 of one Kafka broker, restarted")


def test_all_kafka_brokers_stopped(pipeline):
    outage(Run(pipeline), ["kafka-1", "kafka-2", "kafka-3"], "TERM", OUTAGE_S,
           f"all three Kafka brokers stopped for {OUTAGE_S} s")


def kill_loop(p, what, cfg):
    rnd = random.Random(what)
    for _ in range(KILLS):
        time.sleep(rnd.uniform(0.5, 3.0))
        p.procs[what].send_signal(signal.SIGKILL)
        p.procs[what].wait()
        if what == "capture":
            p.start_capture(cfg)
        else:
            p.start(what, cfg)


def test_capture_kill9_loop(pipeline):
    r = Run(pipeline)
    r.start()
    kill_loop(pipeline, "capture", r.ccfg)
    r.finish(f"kill -9 of capture, {KILLS} times", r.recovered())


def test_archive_kill9_loop(pipeline):
    r = Run(pipeline)
    r.start()
    kill_loop(pipeline, "archive", r.acfg)
    r.finish(f"kill -9 of archive, {KILLS} times", r.recovered())


@pytest.mark.parametrize("mode,sig", [("fast", "INT"), ("immediate", "QUIT")])
def test_postgres_shutdown_and_restart(pipeline, mode, sig):
    """Capture keeps running, says in /health that it waits for PostgreSQL,
    reconnects to the slot with backoff and resumes from the confirmed
    position; `datapipe load` reconnects too and counts only committed
    changes (an unanswered COMMIT resolved from the data)."""
    p = pipeline
    r = Run(p)

    def meanwhile():
        dpcheck.wait_for(lambda: "waiting for postgresql" in (dpcheck.http_get(r.cport, "/health")[1] or ""),
                         30, what="/health to say capture waits for PostgreSQL")
        assert dpcheck.http_get(r.cport, "/health")[0] == 503
        assert p.procs["capture"].poll() is None, p.log("capture")[-3000:]

    outage(r, ["postgres"], sig, SHORT_S, f"PostgreSQL {mode} shutdown, restarted after {SHORT_S} s",
           meanwhile)
    log = p.log("capture")
    assert "lost the connection to PostgreSQL" in log and "reconnected to PostgreSQL" in log, log[-3000:]
    assert "reconnects" in (p.tmp / "load.log").read_text()


@pytest.mark.parametrize("hold", ["lock", "syncrep"])
def test_load_ledger_when_a_crash_cuts_a_commit(pipeline, hold):
    """`datapipe load` counts a transaction cut by a crash only if it
    committed. The load's next transaction is held, then PostgreSQL shuts
    down immediately and comes back, and another transaction commits. The
    ledger must match what the WAL holds.
    - lock: the transaction has its xid and waits on a table lock, with no
      WAL written. Its xid cannot say what became of it: an xid handed out
      but never written is handed out again after a crash, so txid_status()
      answers for another transaction (or says "in the future").
    - syncrep: the COMMIT is in the WAL and waits for a synchronous standby
      that does not exist; it never answers, and it committed."""
    import psycopg
    p, e = pipeline, pipeline.env
    admin = psycopg.connect(host=e["PGHOST"], port=e["PGPORT"], user=e["PGUSER"],
                            password=e["PGPASSWORD"], dbname=p.db, autocommit=True)
    p.sql(f"SELECT pg_create_logical_replication_slot('witness_{p.id}', 'test_decoding')")
    ledger = p.tmp / "ledger.json"
    load = p.start_load(ledger, 20, 0, 5 if hold == "lock" else 7, "--synchronous-commit", "on")
    held = {"lock": "wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
            "syncrep": "wait_event = 'SyncRep'"}[hold]
    try:
        dpcheck.wait_for(lambda: ledger.exists() and json.loads(ledger.read_text())["total"] >= 10, 30,
                         what="the load to commit")
        if hold == "lock":
            admin.autocommit = False
            admin.execute("LOCK TABLE users, products IN EXCLUSIVE MODE")
        else:
            admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'datapipe_no_such_standby'")
            admin.execute("SELECT pg_reload_conf()")
        dpcheck.wait_for(lambda: p.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                       f"current_database() AND {held}", fetch=True)[0][0] == 1, 30,
                         what=f"the load's transaction to be held ({hold})")
        if hold == "syncrep":  # for the restart; the running server keeps waiting
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        try:
            dpcheck.stack("stop", "postgres", "QUIT")
        finally:
            dpcheck.stack("up")
        p.sql("CREATE TABLE xid_taker (i int)")  # a committed transaction after the restart
        dpcheck.wait_for(lambda: "in doubt" in (p.tmp / "load.log").read_text(), 60,
                         what="the load to reconnect")
        before = json.loads(ledger.read_text())["total"]
        dpcheck.wait_for(lambda: load.poll() is not None or json.loads(ledger.read_text())["total"] >= before + 10,
                         60, what="the load to go on after the restart")
    finally:
        rc = dpcheck.stop(load, signal.SIGINT, timeout=60)
        admin.close()
        p.sql("ALTER SYSTEM RESET synchronous_standby_names")
        p.sql("SELECT pg_reload_conf()")
    log = (p.tmp / "load.log").read_text()
    assert rc == 0, log[-3000:]
    assert ("in doubt after the reconnect: " + ("not committed" if hold == "lock" else "committed")) in log, \
        log[-3000:]
    check_ledger(json.loads(ledger.read_text()), witness(p))


def test_s3_server_stopped(pipeline):
    outage(Run(pipeline), ["s3"], "TERM", OUTAGE_S, f"S3 server stopped for {OUTAGE_S} s")


@pytest.mark.parametrize("kind", ["slowdown", "slow"])
def test_s3_throttling_and_slow_answers(pipeline, kind):
    """Through an HTTP proxy in front of the real S3 server: for the fault's
    duration every request is answered 503 SlowDown, or forwarded 3 s late."""
    p = pipeline
    active = {"on": False}

    def rule(n, method, path):
        if not active["on"]:
            return None
        return ("status", 503, "SlowDown") if kind == "slowdown" else ("delay", 3)

    with dpcheck.FaultProxy(p.env["S3_ENDPOINT_URL"], rule) as proxy:
        r = Run(p, archive_extra={"store.url": proxy.url})
        r.start()
        active["on"] = True
        time.sleep(OUTAGE_S)
        active["on"] = False
        rec = r.recovered()
        name = ("S3 answers 503 SlowDown to every request" if kind == "slowdown"
                else "S3 answers every request 3 s late") + f" for {OUTAGE_S} s"
        r.finish(name, rec)


@pytest.mark.parametrize("link", ["capture-postgres", "archive-s3", "capture-kafka", "archive-kafka"])
def test_network_cut(pipeline, tmp_path, link):
    """A real TCP fault proxy (toxiproxy) between the service and the server;
    disabling it cuts every connection and refuses new ones. Kafka: the
    service bootstraps at the brokers' PROXIED listener (scripts/stack), which
    advertises the proxy's ports, so every broker connection of that service
    goes through the proxy while the others' do not."""
    p = pipeline
    tp = Toxiproxy(tmp_path)
    names = [link]
    try:
        if link == "capture-postgres":
            port = tp.proxy(link, f"{p.env['PGHOST']}:{p.env['PGPORT']}")
            r = Run(p, capture_extra={"database.port": str(port)})
        elif link == "archive-s3":
            up = p.env["S3_ENDPOINT_URL"].split("//", 1)[1]
            port = tp.proxy(link, up)
            r = Run(p, archive_extra={"store.url": f"https://127.0.0.1:{port}"})  # TLS through it
        else:
            listen = p.env["KAFKA_PROXIED_BOOTSTRAP"].split(",")
            names = [f"{link}-{i}" for i in range(len(listen))]
            for name, at, up in zip(names, listen, p.env["KAFKA_PROXIED_UPSTREAMS"].split(",")):
                tp.proxy(name, up, int(at.rsplit(":", 1)[1]))
            extra = {"kafka.bootstrap.servers": p.env["KAFKA_PROXIED_BOOTSTRAP"]}
            r = Run(p, **({"capture_extra": extra} if link.startswith("capture") else {"archive_extra": extra}))
        r.start()
        health = []  # the archive's /health answers during the cut and after it
        for name in names:
            tp.enabled(name, False)
        end = time.monotonic() + SHORT_S
        while time.monotonic() < end:
            health.append(dpcheck.http_get(r.aport, "/health"))
            time.sleep(0.5)
        for name in names:
            tp.enabled(name, True)
        recovery_s = r.recovered()
        if link == "archive-kafka":  # 503 while Kafka was cut off, 200 again once it is back
            assert any(c == 503 and "Kafka unreachable" in b for c, b, _ in health), health[-3:]
            dpcheck.wait_for(lambda: dpcheck.http_get(r.aport, "/health")[0] == 200, 30,
                             what="the archive's /health to be 200 again")
        r.finish(f"network cut {link.replace('-', ' to ')} for {SHORT_S} s", recovery_s)
        if link.endswith("kafka"):  # the cut reached the service, and only through the proxy
            service = link.split("-")[0]
            assert "brokers are down" in p.log(service), p.log(service)[-3000:]
    finally:
        tp.close()


def test_kafka_unresponsive(pipeline):
    """Every broker frozen (SIGSTOP): connections stay open and nothing
    answers, as in a network partition between the services and Kafka."""
    r = Run(pipeline)
    r.start()
    pids = [int((dpcheck.ROOT / ".stack" / f"kafka-{i}.pid").read_text()) for i in (1, 2, 3)]
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(SHORT_S)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    r.finish(f"Kafka unresponsive (all brokers frozen) for {SHORT_S} s", r.recovered())


def test_status_answers_with_a_broker_down(pipeline):
    """`datapipe status` answers within a bounded time with one broker
    killed: it reports PostgreSQL and S3 and names what in Kafka did not
    answer, rather than running into its last-resort alarm (exit 3)."""
    p = pipeline
    r = Run(p)
    r.start()
    try:
        dpcheck.stack("stop", "kafka-3", "KILL")
        t0 = time.monotonic()
        res = subprocess.run([str(p.binary), "status", "--capture", str(r.ccfg), "--archive", str(r.acfg)],
                             env=p.env, capture_output=True, text=True, timeout=90)
        print(f"status with a broker down: exit {res.returncode} after {time.monotonic() - t0:.1f} s")
        assert res.returncode in (0, 1), res.stdout + res.stderr
        assert "postgres  slot" in res.stdout and "s3 " in res.stdout, res.stdout + res.stderr
        if res.returncode == 1:
            assert "kafka     unreachable or incomplete" in res.stdout, res.stdout
    finally:
        dpcheck.stack("up")
    r.finish("one broker killed while `datapipe status` runs", r.recovered())


def test_schema_registry_down_during_an_avro_run(pipeline):
    """AvroConverter on both sides. The registry stops; meanwhile the table
    gains a column (capture must register a new schema) and the archive is
    restarted (it must fetch the writer schemas again). Both wait for the
    registry and go on when it is back. The Kafka side is Avro, so the
    count is made in S3 (the archive decodes it; pyarrow reads it)."""
    p = pipeline
    avro = "io.confluent.connect.avro.AvroConverter"
    reg = p.env["SCHEMA_REGISTRY_URL"]
    r = Run(p, capture_extra={"key.converter": avro, "value.converter": avro, **conftest.registry_keys(reg)},
            archive_extra={"value.converter": avro, **conftest.registry_keys(reg, sides=("value",))})
    r.kafka_check = False

    def meanwhile():
        p.sql("ALTER TABLE users ADD COLUMN nickname text")
        p.procs["archive"].send_signal(signal.SIGKILL)
        p.procs["archive"].wait()
        p.start("archive", r.acfg)

    outage(r, ["registry"], "TERM", OUTAGE_S, f"schema registry stopped for {OUTAGE_S} s (Avro), "
           "a new schema and an archive restart meanwhile", meanwhile)
