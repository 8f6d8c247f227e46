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
import struct
import subprocess
import sys
import threading
import time
from array import array
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
# the stack's principals and grants: one description, shared with scripts/stack
from stack_helper import grant_acls, kafka_conf, service_acls  # noqa: E402,F401

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
                        region_name=env["AWS_REGION"], verify=env.get("AWS_CA_BUNDLE") or True,
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
    c = Consumer(kafka_conf(env, **{"group.id": "read-" + secrets.token_hex(4),
                  "enable.auto.commit": False, "enable.partition.eof": True}))
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


def forward(h, upstream, body):
    """Send the request handler h is serving (its body already read) to
    upstream (scheme://host:port; https trusts the stack's CA,
    .stack/tls/ca.pem) and copy the answer back to h's client."""
    import ssl
    import urllib.parse
    u = urllib.parse.urlsplit(upstream)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=str(ROOT / ".stack" / "tls" / "ca.pem"))
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
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
    """HTTP proxy (plain HTTP to its clients) to the real S3 server. `rule(n, method, path)` sees the
    n-th request (0-based) and returns None to forward it, ("status", code,
    s3_code) to answer with an S3 error document, ("drop",) to close the
    connection without an answer, ("stall", seconds) to wait that long and
    then close the connection unanswered, or ("delay", seconds) to wait that
    long and then forward it (a slow server)."""

    def __init__(self, upstream, rule):
        self.rule = rule
        self.requests = []
        self.headers = []  # each request's headers, lower-case names
        self.lock = threading.Lock()
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
                    proxy.headers.append({k.lower(): v for k, v in self.headers.items()})
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
                forward(self, upstream, body)

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


# ---- one run's share of the archive, read one object at a time (scripts/run.py) ----
#
# The functions above read a whole prefix into one table, which is right for the
# integration tests' small archives. `make run` checks only what one run wrote, with
# memory that does not grow with the archive: the objects are chosen by their key and
# footer, then read one by one and folded into counters.

RUN_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset", "lsn", "table_name",
               "operation_type", "before_data", "after_data")


def topic_end_offsets(env, topics_regex=None, topics=None, timeout=10):
    """{(topic, partition): high watermark} of the topics that topics_regex matches
    (the whole name, as the archive's topics.regex) or that topics lists. Taken before
    anything of a run is produced, every record of the run is at or above these."""
    import secrets
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(kafka_conf(env, **{"group.id": "offsets-" + secrets.token_hex(4),
                  "enable.auto.commit": False}))
    try:
        md = c.list_topics(timeout=timeout)
        pat = re.compile(topics_regex) if topics_regex else None
        names = [t for t in md.topics if (pat and pat.fullmatch(t)) or (topics and t in topics)]
        out = {}
        for t in sorted(names):
            for p in sorted(md.topics[t].partitions):
                out[(t, p)] = c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout, cached=False)[1]
        return out
    finally:
        c.close()


def _path_tokens(fmt):
    """path.format as [(letter or None, text)]: a field (letter, run) or a literal."""
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "'":
            e = fmt.index("'", i + 1)
            out.append((None, fmt[i + 1:e]))
            i = e + 1
            continue
        n = 1
        while i + n < len(fmt) and fmt[i + n] == ch:
            n += 1
        out.append((ch, fmt[i:i + n]) if ch.isalpha() else (None, fmt[i:i + n]))
        i += n
    return out


def partition_path(fmt, ts_ms, duration_ms=3600000, tz="UTC"):
    """The time path the archive gives a record of time ts_ms (as src/archive/row.c:
    bucketed in local time, formatted with the Joda-style pattern fmt)."""
    import datetime
    offset_ms = 0
    if tz and tz != "UTC":
        from zoneinfo import ZoneInfo
        off = datetime.datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz)).utcoffset()
        offset_ms = int(off.total_seconds() * 1000)
    local = ts_ms + offset_ms
    b = local - local % duration_ms
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=b)
    fields = {"Y": t.year, "y": t.year, "M": t.month, "d": t.day, "H": t.hour, "m": t.minute, "s": t.second}
    out = []
    for letter, text in _path_tokens(fmt):
        if letter is None:
            out.append(text)
        elif letter in fields:
            out.append(f"{fields[letter]:0{len(text)}d}")
        else:
            raise ValueError(f"path.format {fmt!r}: unknown field {text!r}")
    return "".join(out)


def path_is_time_ordered(fmt):
    """Whether paths of fmt sort as their times do: fixed-width fields from the year
    down (a leading part of year, month, day, hour, minute, second), so that S3's key
    order is time order and a listing can start at a time."""
    want = ["Y", "M", "d", "H", "m", "s"]
    width = {"Y": 4}
    seen = []
    for letter, text in _path_tokens(fmt):
        if letter is None:
            continue
        letter = "Y" if letter == "y" else letter
        if len(text) < width.get(letter, 2):
            return False
        seen.append(letter)
    return bool(seen) and seen == want[:len(seen)]


def s3_footer_kv(s3, bucket, key, size, tail=65536):
    """The key/value metadata of the Parquet footer of an S3 object (one or two range
    GETs of its tail), as {str: str}; None when the object is not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    if size < 12:
        return None
    first = max(0, size - tail)
    data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{size - 1}")["Body"].read()
    if data[-4:] != b"PAR1":
        return None
    flen = int.from_bytes(data[-8:-4], "little")
    if flen + 12 > size:
        return None
    if flen + 8 > len(data):
        data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={size - 8 - flen}-{size - 1}")["Body"].read()
    try:
        md = pq.read_metadata(pa.BufferReader(b"PAR1" + data[-8 - flen:]))
    except (pa.ArrowException, OSError):
        return None
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in (md.metadata or {}).items()}


class RunObjects:
    """The objects of a listing that can hold records of one run (see run_objects)."""

    def __init__(self):
        self.read = []          # (key, size) to read, in (topic, partition, start offset) order
        self.listed = 0         # keys the listing returned (from start_after on)
        self.older = 0          # listed, but every offset in them is below the run's start
        self.foreign = []       # listed keys that are not the archive's layout
        self.footers = 0        # footers read to decide
        self.start_after = None  # where the listing started (None: the whole prefix)
        self.bytes = 0          # size of the objects to read


def run_objects(env, prefix, since_ms, start_offsets, path_format="'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
                duration_ms=3600000, tz="UTC", margin_ms=600000, parallel=8, s3=None):
    """The objects under prefix that can hold records produced since since_ms at or
    above start_offsets {(topic, partition): offset} (None: no offset filter).

    Two filters:
    - time: every record gets the path of its time (timestamp.extractor: the Kafka
      record's CreateTime, which the producer sets when it sends; a field of the
      event, here the commit time; or the archive's clock), and every record of the
      run is sent after since_ms. When path.format sorts as time, the listing starts
      at the path of since_ms - margin_ms (one more hour outside UTC, for a daylight
      saving change) and never sees older paths. Sound while the clocks involved
      (this host's, Kafka's producer's, PostgreSQL's) agree within margin_ms.
    - offsets (exact): an object whose name starts at or above the partition's start
      offset is read; one that starts below it is read only if its footer's
      datapipe.kafka.end.offset (the last offset it covers) reaches the start offset,
      so an older object that overlaps the run is read too. A topic or partition
      missing from start_offsets was created during the run: all of it is read.
      Foreign keys are read when their footer is the archive's and reaches into the run.
    Foreign keys that sort before the listing's start are not seen (datapipe verify
    lists the whole prefix).
    """
    from concurrent.futures import ThreadPoolExecutor
    s3 = s3 or s3_client(env)
    bucket = env["S3_BUCKET"]
    res = RunObjects()
    kw = {}
    if path_is_time_ordered(path_format):
        bound = since_ms - margin_ms - (0 if tz in (None, "", "UTC") else 3600000)
        res.start_after = prefix.rstrip("/") + "/" + partition_path(path_format, bound, duration_ms, tz)
        kw["StartAfter"] = res.start_after
    todo, check = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/", **kw):
        for o in page.get("Contents", []):
            key, size = o["Key"], o["Size"]
            res.listed += 1
            m = KEY_RE.match(key)
            if m is None:  # foreign: its footer decides
                res.foreign.append(key)
                check.append((key, size, None))
                continue
            tp, first = (m["topic"], int(m["partition"])), int(m["offset"])
            if start_offsets is None or first >= start_offsets.get(tp, 0):
                todo.append(((tp[0], tp[1], first), key, size))
            else:
                check.append((key, size, tp))

    def reaches(item):
        key, size, _ = item
        kv = s3_footer_kv(s3, bucket, key, size)
        try:
            tp = (kv["datapipe.kafka.topic"], int(kv["datapipe.kafka.partition"]))
            first, end = int(kv["datapipe.kafka.start.offset"]), int(kv["datapipe.kafka.end.offset"])
        except (TypeError, KeyError, ValueError):
            return None  # not the archive's footer: foreign, not read
        if start_offsets is not None and end < start_offsets.get(tp, 0):
            return None
        return ((tp[0], tp[1], first), key, size)

    res.footers = len(check)
    if check:
        with ThreadPoolExecutor(max_workers=parallel) as ex:
            for item, got in zip(check, ex.map(reaches, check)):
                if got is None:
                    res.older += item[2] is not None
                else:
                    todo.append(got)
    todo.sort()
    res.read = [(key, size) for _, key, size in todo]
    res.bytes = sum(size for _, size in res.read)
    return res


def fetch_objects(env, keys, dest, parallel=8, s3=None):
    """Download keys [(key, size)] into dest (keeping the key layout), at most
    `parallel` ahead of the consumer; yields (key, local path) in the order given.
    What is on disk stays: the caller deletes dest when it wants."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    s3 = s3 or s3_client(env)
    dest = Path(dest)

    def get(key):
        p = dest / key
        p.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(env["S3_BUCKET"], key, str(p))
        return p

    with ThreadPoolExecutor(max_workers=parallel) as ex:
        pending = deque()
        it = iter(keys)
        for key, _ in it:
            pending.append((key, ex.submit(get, key)))
            if len(pending) >= parallel:
                break
        while pending:
            key, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt[0], ex.submit(get, nxt[0])))
            yield key, fut.result()


def _int64_view(arr):
    """An array('q') as a pyarrow int64 array without copying it."""
    import pyarrow as pa
    return pa.Array.from_buffers(pa.int64(), len(arr), [None, pa.py_buffer(arr)])


def repeats(arr):
    """(extra copies, values present more than once) among the int64 values of arr
    (an array('q')). Sorts a copy: 16 bytes per value while it runs."""
    import pyarrow.compute as pc
    n = len(arr)
    if n < 2:
        return 0, 0
    s = _int64_view(arr).sort()
    eq = pc.equal(s.slice(1), s.slice(0, n - 1))
    extra = pc.sum(eq).as_py() or 0
    runs = extra - ((pc.sum(pc.and_(eq.slice(1), eq.slice(0, n - 2))).as_py() or 0) if n > 2 else 0)
    return extra, runs


def unscaled_decimal(v, scale):
    """A decimal as its unscaled integer: a Debezium bytes decimal (base64 of the
    big-endian two's complement), a JSON number, or a Decimal from PostgreSQL."""
    import decimal
    if v is None:
        return None
    if isinstance(v, str):
        return int.from_bytes(base64.b64decode(v), "big", signed=True)
    if isinstance(v, decimal.Decimal):
        return int(v.scaleb(scale).to_integral_value())
    return int(decimal.Decimal(str(v)).scaleb(scale).to_integral_value())


def row_key(v):
    """A primary-key value in a compact, comparable form: a UUID (text or uuid.UUID)
    becomes its 128-bit integer, anything else its text (so an int is always a UUID)."""
    import uuid
    if isinstance(v, uuid.UUID):
        return v.int
    if isinstance(v, str) and len(v) == 36 and v[8] == v[13] == v[18] == v[23] == "-":
        try:
            return int(v.replace("-", ""), 16)
        except ValueError:
            pass
    return str(v)


class LatestState:
    """The latest archived state, per key, of one table: for each key that a row of
    the run touched, whether the row was deleted and the compared columns, taken from
    the change with the highest (lsn, kafka partition, kafka offset); the LSN orders
    the changes of one key (a row is locked until its change commits), the Kafka
    position only breaks ties between copies of one change.

    Memory: one dict entry per touched key, about 160 bytes (159 measured with
    683,000 keys): the key (a UUID as a 128-bit int, 44 bytes), a packed 33-byte value
    (66 bytes as a bytes object) and the dict's slot. The compared values other than
    the decimal are interned, so they cost once per distinct tuple (the seed's workload
    has 40 (tier, last_name) pairs and 2 is_active values); compare columns with few
    distinct values, or the table of interned tuples grows with the keys."""

    _PACK = struct.Struct(">QIQIqB")  # lsn, partition, offset, value id, decimal, flags
    _DELETED, _HAS_DEC = 1, 2

    def __init__(self, table, pk, cols, decimal=None, scale=2):
        self.table, self.pk, self.cols, self.decimal, self.scale = table, pk, tuple(cols), decimal, scale
        self.state = {}
        self._ids = {}
        self._values = []

    def _value_id(self, vals):
        i = self._ids.get(vals)
        if i is None:
            i = self._ids[vals] = len(self._values)
            self._values.append(vals)
        return i

    def _offer(self, key, lsn, partition, offset, image, deleted):
        dec, flags = 0, self._DELETED if deleted else 0
        vals = ()
        if not deleted:
            vals = tuple(image.get(c) for c in self.cols)
            if self.decimal:
                d = unscaled_decimal(image.get(self.decimal), self.scale)
                if d is not None and -(1 << 63) <= d < (1 << 63):
                    dec, flags = d, flags | self._HAS_DEC
                else:
                    vals += (d,)  # null, or too wide for 64 bits: interned with the rest
        packed = self._PACK.pack(lsn, partition, offset, self._value_id(vals), dec, flags)
        k = row_key(key)
        cur = self.state.get(k)
        if cur is None or packed > cur:
            self.state[k] = packed

    def apply(self, op, before_data, after_data, lsn, partition, offset):
        """Fold one archived change (op c, u, r or d; others are ignored)."""
        if op in ("c", "u", "r"):
            after = json.loads(after_data)
            if op == "u" and before_data:
                before = json.loads(before_data)
                if before.get(self.pk) is not None and before.get(self.pk) != after[self.pk]:
                    self._offer(before[self.pk], lsn, partition, offset, None, True)
            self._offer(after[self.pk], lsn, partition, offset, after, False)
        elif op == "d":
            before = json.loads(before_data)
            self._offer(before[self.pk], lsn, partition, offset, None, True)

    def latest(self, key):
        """(deleted, compared values, unscaled decimal) of a key, None if not touched."""
        packed = self.state.get(row_key(key))
        return None if packed is None else self._unpack(packed)

    def _unpack(self, packed):
        _, _, _, vid, dec, flags = self._PACK.unpack(packed)
        vals = self._values[vid]
        if self.decimal and not flags & self._HAS_DEC and not flags & self._DELETED:
            vals, d = vals[:-1], vals[-1]
        else:
            d = dec if flags & self._HAS_DEC else None
        return bool(flags & self._DELETED), vals, d

    def compare(self, env, chunk=5000):
        """Compare each touched key's latest state with the live table, fetching only
        those keys (chunk at a time). Returns a dict of counts and a few examples."""
        import uuid
        import psycopg
        res = {"keys": len(self.state), "present": 0, "deleted": 0, "missing": 0, "extra": 0,
               "differ": 0, "decimal_differ": 0, "examples": []}
        cols = ", ".join((self.pk,) + self.cols + ((self.decimal,) if self.decimal else ()))
        conninfo = dict(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                        password=env["PGPASSWORD"], dbname=env["PGDATABASE"])
        keys = list(self.state)
        with psycopg.connect(**conninfo, autocommit=True) as c:
            for i in range(0, len(keys), chunk):
                part = keys[i:i + chunk]
                if all(isinstance(k, int) for k in part):
                    sql = f"SELECT {cols} FROM {self.table} WHERE {self.pk} = ANY(%s::uuid[])"
                    arg = [uuid.UUID(int=k) for k in part]
                else:
                    sql = f"SELECT {cols} FROM {self.table} WHERE {self.pk}::text = ANY(%s)"
                    arg = [str(uuid.UUID(int=k)) if isinstance(k, int) else k for k in part]
                live = {row_key(r[0]): r[1:] for r in c.execute(sql, (arg,)).fetchall()}
                for k in part:
                    deleted, vals, dec = self._unpack(self.state[k])
                    res["deleted" if deleted else "present"] += 1
                    row = live.get(k)
                    if deleted or row is None:
                        if deleted != (row is None):
                            res["extra" if deleted else "missing"] += 1
                            self._example(res, k, "in the table but deleted in the archive" if deleted
                                          else "in the archive but not in the table")
                        continue
                    if tuple(row[:len(self.cols)]) != vals:
                        res["differ"] += 1
                        self._example(res, k, f"archive {vals} table {tuple(row[:len(self.cols)])}")
                    if self.decimal and unscaled_decimal(row[-1], self.scale) != dec:
                        res["decimal_differ"] += 1
                        self._example(res, k, f"{self.decimal}: archive {dec} table {row[-1]} "
                                              f"(unscaled, scale {self.scale})")
        return res

    @staticmethod
    def _example(res, k, what):
        import uuid
        if len(res["examples"]) < 3:
            res["examples"].append(f"{uuid.UUID(int=k) if isinstance(k, int) else k}: {what}")


def _by_partition(b):
    """The rows of a record batch per (kafka_topic, kafka_partition): [(tp, batch)]
    (one object holds one partition, so mostly the batch itself)."""
    import pyarrow.compute as pc
    topics = pc.unique(b.column("kafka_topic")).to_pylist()
    parts = pc.unique(b.column("kafka_partition")).to_pylist()
    if len(topics) == 1 and len(parts) == 1:
        return [((topics[0], parts[0]), b)]
    out = []
    for t in topics:
        bt = b.filter(pc.fill_null(pc.equal(b.column("kafka_topic"), t), False))
        for p in pc.unique(bt.column("kafka_partition")).to_pylist():
            out.append(((t, p), bt.filter(pc.fill_null(pc.equal(bt.column("kafka_partition"), p), False))))
    return out


def _extend_int64(arr, a):
    """Append the values of a pyarrow int64 array without nulls to an array('q')."""
    if a.null_count:
        arr.extend(v for v in a.to_pylist() if v is not None)
        return
    buf = a.buffers()[1]
    arr.frombytes(memoryview(buf)[a.offset * 8:(a.offset + len(a)) * 8])


class RunFold:
    """Everything the end-of-run check needs from the archived rows of one run, folded
    one record batch at a time. A row belongs to the run when its lsn >= start_lsn;
    a record belongs to the run when its offset is at or above its partition's
    offset at the run's start (start_offsets; a partition missing there: from 0).

    Memory, besides the LatestState of each table (about 160 bytes per touched key):
    - the offsets of the run's records, one array('q') per partition: 8 bytes per
      record, to find records archived twice;
    - the lsn of the run's rows, one array('q') per table: 8 bytes per row, to find
      changes archived twice (at two offsets);
    - while counting repeats at the end, 16 bytes more per value of the one array being
      sorted (skipped for a partition whose offsets arrived in increasing order).
    A 5-minute run at 8,700 changes/s (2.6 M rows, about 1.3 M keys created) thus
    keeps about 42 MB of arrays and 210 MB of latest states: on a synthetic archive of
    that size the check peaked at 390 MiB RSS, libraries included, in 27 s."""

    def __init__(self, start_lsn, start_offsets, tables=()):
        self.start_lsn = start_lsn
        self.start_offsets = start_offsets or {}
        self.tables = {t.table: t for t in tables}
        self.offsets = {}        # (topic, partition) -> array('q')
        self.increasing = {}     # (topic, partition) -> offsets arrived strictly increasing
        self.lsns = {}           # table -> array('q')
        self.counts = Counter()  # (table, op) -> rows of the run
        self.rows = 0            # rows read
        self.run_rows = 0        # rows with lsn >= start_lsn
        self.below_start = 0     # rows of the run at an offset below the run's start offsets
        self.objects = 0

    def add_file(self, path, batch_size=65536):
        """Fold one Parquet file, reading only RUN_COLUMNS, batch_size rows at a time."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        with pa.OSFile(str(path)) as src:
            f = pq.ParquetFile(src)
            for b in f.iter_batches(batch_size=batch_size, columns=list(RUN_COLUMNS), use_threads=False):
                self.add_batch(b)
        self.objects += 1

    def add_batch(self, b):
        import pyarrow.compute as pc
        self.rows += b.num_rows
        for tp, sub in _by_partition(b):
            start = self.start_offsets.get(tp, 0)
            offs = sub.column("kafka_offset")
            mine = offs if start == 0 else offs.filter(pc.greater_equal(offs, start))
            if len(mine):
                a = self.offsets.get(tp)
                if a is None:
                    a = self.offsets[tp] = array("q")
                    self.increasing[tp] = True
                if self.increasing[tp] and ((len(a) and mine[0].as_py() <= a[-1]) or (
                        len(mine) > 1 and not pc.all(pc.greater(mine.slice(1), mine.slice(0, len(mine) - 1))).as_py())):
                    self.increasing[tp] = False
                _extend_int64(a, mine)
            r = sub.filter(pc.fill_null(pc.greater_equal(sub.column("lsn"), self.start_lsn), False))
            if r.num_rows == 0:
                continue
            self.run_rows += r.num_rows
            if start:
                self.below_start += pc.sum(pc.less(r.column("kafka_offset"), start)).as_py() or 0
            names = r.column("table_name")
            tables = pc.unique(names).to_pylist()
            for table in tables:
                rt = r if len(tables) == 1 else r.filter(
                    pc.is_null(names) if table is None else pc.fill_null(pc.equal(names, table), False))
                ops = rt.column("operation_type").to_pylist()
                for op, n in Counter(ops).items():
                    self.counts[(table, op)] += n
                la = self.lsns.get(table)
                if la is None:
                    la = self.lsns[table] = array("q")
                _extend_int64(la, rt.column("lsn"))
                st = self.tables.get(table)
                if st is not None:
                    for op, bd, ad, lsn, o in zip(ops, rt.column("before_data").to_pylist(),
                                                  rt.column("after_data").to_pylist(),
                                                  rt.column("lsn").to_pylist(), rt.column("kafka_offset").to_pylist()):
                        st.apply(op, bd, ad, lsn, tp[1], o)

    def duplicated_records(self):
        """(run records, Kafka records archived in more than one row)."""
        total = dup = 0
        for tp, a in self.offsets.items():
            total += len(a)
            if not self.increasing[tp]:
                dup += repeats(a)[1]
        return total, dup

    def distinct_changes(self):
        """Distinct (table, lsn) among the run's rows."""
        return sum(len(a) - repeats(a)[0] for a in self.lsns.values())


def duckdb_query_bounded(local_dir, prefix, sql_tail, memory_limit="256MB", threads=2):
    """duckdb_query with a memory limit and few threads (it runs in the checker's
    own process, so its memory is part of the check's)."""
    import duckdb
    glob = str(Path(local_dir) / prefix / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET threads = {int(threads)}")
        return con.execute(f"SELECT {sql_tail.format(src=duckdb_source(glob))}").fetchall()
    finally:
        con.close()


def peak_rss_mib():
    """Peak resident set size of this process so far, in MiB."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    """Resident set size of this process now, in MiB (Linux)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")
