"""Independent checks of datapipe's output.

Nothing here uses datapipe's own code: S3 is read with boto3, Parquet with
pyarrow and DuckDB, PostgreSQL with psycopg, Kafka with confluent-kafka.
Shared by `make run` (scripts/run.py) and the integration tests.
"""
import base64
import http.client
import http.server
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KEY_RE = re.compile(
    r"^(?P<dir>.+)/year=(?P<year>\d{4})/month=(?P<month>\d{2})/day=(?P<day>\d{2})/hour=(?P<hour>\d{2})/"
    r"(?P<topic>[^/+]+)\+(?P<partition>\d+)\+(?P<offset>\d{10})\.snappy\.parquet$")


def stack_env():
    """The variables of .stack/env as a dict (values unescaped as bash would)."""
    env = {}
    for line in (ROOT / ".stack" / "env").read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        k, _, v = line[len("export "):].partition("=")
        parts = shlex.split(v)
        env[k] = parts[0] if parts else ""
    return env


def process_env():
    e = dict(os.environ)
    e.update(stack_env())
    return e


def s3_client(env):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=env["S3_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        region_name=env["AWS_REGION"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


def s3_cli_cmd():
    """`datapipe s3` of the build under test: DATAPIPE_S3_CMD, else
    $DP_BUILD_DIR/datapipe s3 (build/ by default)."""
    import shutil
    if os.environ.get("DATAPIPE_S3_CMD"):
        cmd = shlex.split(os.environ["DATAPIPE_S3_CMD"])
    else:
        cmd = [str(ROOT / os.environ.get("DP_BUILD_DIR", "build") / "datapipe"), "s3"]
    assert Path(cmd[0]).exists() or shutil.which(cmd[0]), \
        f"{cmd[0]} not found: build first, or set DATAPIPE_S3_CMD"
    return cmd


PARQUET_CODECS = ("none", "snappy", "gzip", "zstd")


def parquet_sample_names(seeds):
    """The files test_parquet writes: one per codec, the layout samples,
    and the random property-style files of each seed with every codec."""
    return ([f"codec_{c}" for c in PARQUET_CODECS]
            + ["multi_rg", "dict", "pages", "midrow_flush", "empty"]
            + [f"random_s{s}_{c}" for s in seeds for c in PARQUET_CODECS])


def write_parquet_samples(out_dir, seeds):
    """Run the unit test binary test_parquet ($DP_BUILD_DIR, default build/)
    with DP_PARQUET_OUT_DIR: it writes NAME.parquet and NAME.json (the rows
    it holds) for each of parquet_sample_names(seeds) into out_dir."""
    binary = ROOT / os.environ.get("DP_BUILD_DIR", "build") / "test_parquet"
    assert binary.exists(), f"{binary} not built (set DP_BUILD_DIR)"
    env = dict(os.environ, DP_PARQUET_OUT_DIR=str(out_dir), DP_PARQUET_SEEDS=",".join(seeds))
    proc = subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout
    return out_dir


def read_topics(env, topics, timeout=60):
    """Every record of topics up to their current end, as confluent-kafka
    Messages in (topic, partition, offset) order. Committed records only
    (read_committed, librdkafka's default). The end of a partition is where
    it reports EOF: with Kafka transactions offsets are not dense (commit
    markers take offsets of their own), so watermarks do not count records."""
    import secrets
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"], "group.id": "read-" + secrets.token_hex(4),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        md = c.list_topics(timeout=10)
        parts = [TopicPartition(t, i, 0) for t in topics for i in sorted(md.topics[t].partitions)]
        c.assign(parts)
        pending = {(tp.topic, tp.partition) for tp in parts}
        out = []
        deadline = time.time() + timeout
        while pending and time.time() < deadline:
            for m in c.consume(10000, timeout=1):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        pending.discard((m.topic(), m.partition()))
                    continue
                out.append(m)
        assert not pending, f"did not reach the end of {sorted(pending)} within {timeout} s"
        return sorted(out, key=lambda m: (m.topic(), m.partition(), m.offset()))
    finally:
        c.close()


class LoopbackServer:
    """A threaded HTTP server for handler_class on 127.0.0.1 (a free port),
    serving while used as a context manager; its address is .url."""

    def __init__(self, handler_class):
        import http.server
        import threading
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def list_keys(env, prefix):
    s3 = s3_client(env)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=env["S3_BUCKET"], Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def download_archive(env, prefix, dest):
    """Mirror every object under prefix into dest (keeping the key layout)."""
    s3 = s3_client(env)
    dest = Path(dest)
    keys = list_keys(env, prefix)
    for k in keys:
        p = dest / k
        p.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(env["S3_BUCKET"], k, str(p))
    return keys


def read_archive(local_dir, prefix):
    """All rows of the mirrored archive with pyarrow, hive partitions on."""
    import pyarrow.dataset as ds
    root = Path(local_dir) / prefix
    if not root.exists():
        return None
    return ds.dataset(str(root), format="parquet", partitioning="hive").to_table()


HIVE_TYPES = "{'year': INTEGER, 'month': INTEGER, 'day': INTEGER, 'hour': INTEGER}"


def duckdb_source(glob):
    """read_parquet over the archive with the seed's INT partition columns
    (DuckDB leaves zero-padded values such as hour=07 as text otherwise)."""
    return f"read_parquet({glob!r}, hive_partitioning=true, hive_types={HIVE_TYPES})"


def duckdb_query(local_dir, prefix, sql_tail):
    import duckdb
    glob = str(Path(local_dir) / prefix / "**" / "*.parquet")
    con = duckdb.connect()
    return con.execute(f"SELECT {sql_tail.format(src=duckdb_source(glob))}").fetchall()


def decode_decimal(b64, scale):
    raw = base64.b64decode(b64)
    return int.from_bytes(raw, "big", signed=True) / (10 ** scale)


def replay(rows, table, pk):
    """State of table after applying the archived events in LSN order."""
    state = {}
    events = [r for r in rows if r["table_name"] == table]
    events.sort(key=lambda r: (r["lsn"], r["kafka_offset"]))
    for r in events:
        if r["operation_type"] in ("c", "u", "r"):
            after = json.loads(r["after_data"])
            if r["operation_type"] == "u" and r["before_data"]:
                before = json.loads(r["before_data"])
                if before.get(pk) != after[pk]:
                    state.pop(before.get(pk), None)
            state[after[pk]] = after
        elif r["operation_type"] == "d":
            before = json.loads(r["before_data"])
            state.pop(before[pk], None)
    return state


def pg_rows(env, sql, dbname=None):
    import psycopg
    conninfo = dict(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                    password=env["PGPASSWORD"], dbname=dbname or env["PGDATABASE"])
    with psycopg.connect(**conninfo, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


def check_key_layout(keys, prefix):
    """Every key follows <prefix>/year=/month=/day=/hour=/<topic>+<p>+<offset10>.snappy.parquet."""
    bad = [k for k in keys if not KEY_RE.match(k) or not k.startswith(prefix + "/")]
    return bad


def start(cmd, env, log_path):
    log = open(log_path, "ab")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc, sig=signal.SIGTERM, timeout=60):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_for(pred, timeout, interval=0.5, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def forward(h, host, port, body):
    """Send the request handler h is serving (its body already read) to
    host:port and copy the answer back to h's client."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request(h.command, h.path, body=body, headers=dict(h.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
    finally:
        conn.close()


class FaultProxy(LoopbackServer):
    """HTTP proxy to the real S3 server. `rule(n, method, path)` sees the
    n-th request (0-based) and returns None to forward it, ("status", code,
    s3_code) to answer with an S3 error document, ("drop",) to close the
    connection without an answer, ("stall", seconds) to wait that long and
    then close the connection unanswered, or ("delay", seconds) to wait that
    long and then forward it (a slow server)."""

    def __init__(self, upstream, rule):
        self.rule = rule
        self.requests = []
        self.lock = threading.Lock()
        host, port = upstream.split("//", 1)[1].split(":")
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    n = len(proxy.requests)
                    proxy.requests.append((self.command, self.path))
                action = proxy.rule(n, self.command, self.path)
                if action and action[0] in ("stall", "delay"):
                    time.sleep(action[1])
                if action and action[0] in ("drop", "stall"):
                    self.close_connection = True
                    return
                if action and action[0] == "status":
                    doc = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{action[2]}"
                           f"</Code><Message>injected {action[2]}.</Message></Error>").encode()
                    self.send_response(action[1])
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(doc)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(doc)
                    return
                forward(self, host, int(port), body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        super().__init__(Handler)

    def count(self, method=None, contains=""):
        with self.lock:
            return sum(1 for m, p in self.requests if (method is None or m == method) and contains in p)


def free_port():
    """A loopback port nobody listens on at the moment."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port, path):
    """(status, body, content type) of GET http://127.0.0.1:port/path; status None
    while nothing listens."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")
    except urllib.error.URLError as e:  # not listening yet
        return None, str(e), None


def stack(*args, timeout=300):
    """Run scripts/stack with args (bounded); its output on failure."""
    r = subprocess.run([str(ROOT / "scripts" / "stack"), *args], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"scripts/stack {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r.stdout

