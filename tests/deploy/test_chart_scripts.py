"""The chart's own scripts run against the real servers they configure.

No cluster runs here, so each pod is played by a sandbox: a fresh mount and
network namespace (its own loopback), /etc, /opt, /var and /tmp overlaid so
that the chart's paths can be written without touching the machine, the
rendered ConfigMaps and the Secrets of deploy/kind/secrets.sh mounted where
the pod would see them, and the process run under the pod's uid. The servers
are the ones the local stack runs: Kafka 3.9.1 from Maven Central and
PostgreSQL 15 from Debian. The image's launcher scripts
(/opt/kafka/bin/*.sh) are replaced by the same java command lines; the
PostgreSQL image's entrypoint by its steps (initdb, the init scripts, the
server with the chart's arguments)."""
import base64
import shlex
import socket
import subprocess
import textwrap

import pytest
import yaml

from conftest import NAMESPACE, RELEASE, ROOT, render
from test_chart import by, secrets_script

KAFKA_LIBS = ROOT / ".cache" / "kafka-3.9.1" / "libs"
PG_BIN = "/usr/lib/postgresql/15/bin"
PY = ROOT / ".venv" / "bin" / "python"


def sandbox(tmp_path, files, script, timeout=240):
    """Run script (bash, as root) in a new mount and network namespace.
    files: {absolute path in the sandbox: (bytes, mode, uid, gid)}."""
    stage = tmp_path / "stage"
    lines = ["set -euo pipefail", "mount --make-rprivate /", "ip link set lo up"]
    for i, d in enumerate(("/etc", "/opt", "/var")):
        up, work = tmp_path / f"up{i}", tmp_path / f"work{i}"
        up.mkdir()
        work.mkdir()
        lines.append(f"mount -t overlay overlay -o lowerdir={d},upperdir={up},workdir={work} {d}")
    for n, (path, (data, mode, uid, gid)) in enumerate(files.items()):
        src = stage / str(n)
        src.parent.mkdir(exist_ok=True)
        src.write_bytes(data)
        lines += [f"mkdir -p {shlex.quote(str(path.rsplit('/', 1)[0]))}",
                  f"install -m {mode:o} -o {uid} -g {gid} {src} {shlex.quote(path)}"]
    # the pod's /tmp is an emptyDir: a fresh one here, mounted last. A
    # checkout under /tmp (the venv, the Kafka jars) is kept in view: held
    # in the overlaid /var, then bound again at its own path
    under_tmp = str(ROOT).startswith("/tmp/")
    if under_tmp:
        lines += ["mkdir -p /var/.checkout", f"mount --bind {shlex.quote(str(ROOT))} /var/.checkout"]
    lines.append("mount -t tmpfs -o mode=1777 tmpfs /tmp")
    if under_tmp:
        lines += [f"mkdir -p {shlex.quote(str(ROOT))}",
                  f"mount --bind /var/.checkout {shlex.quote(str(ROOT))}"]
    r = subprocess.run(["unshare", "--mount", "--net", "--fork", "--kill-child", "bash", "-c",
                        "\n".join(lines) + "\n" + script],
                       capture_output=True, text=True, timeout=timeout)
    return r


def secrets(tmp_path):
    return {s["metadata"]["name"]: {k: base64.b64decode(v) for k, v in s["data"].items()}
            for s in secrets_script(tmp_path)}


def mounted(sec, mode, uid, gid, base, keys=None):
    return {f"{base}/{k}": (v, mode, uid, gid) for k, v in sec.items() if keys is None or k in keys}


def one_broker(tmp_path):
    """values.yaml with one broker: replication factors of 1, else the same
    (the seed's topics with their settings)."""
    from conftest import CHART
    v = yaml.safe_load((CHART / "values.yaml").read_text())
    v["kafka"]["replicas"] = 1
    for k in ("min.insync.replicas", "default.replication.factor", "offsets.topic.replication.factor",
              "transaction.state.log.replication.factor", "transaction.state.log.min.isr"):
        v["kafka"]["config"][k] = "1"
    v["schemaRegistry"]["topicReplicationFactor"] = 1
    for t in v["topics"]:
        t["replicationFactor"] = 1
    path = tmp_path / "one-broker.yaml"
    path.write_text(yaml.safe_dump(v))
    return str(path)


@pytest.mark.skipif(not KAFKA_LIBS.exists(), reason="scripts/setup kafka fetches the jars")
def test_kafka_start_script_and_topic_job_on_a_real_broker(tmp_path):
    """The chart's start.sh configures a real Kafka 3.9.1 broker: SASL_SSL
    with the chart's certificate, PLAIN and SCRAM-SHA-512 users from the
    credentials file, StandardAuthorizer. The topic Job's script then makes
    the seed's topics and the ACLs, and each principal gets exactly its
    grants. One broker (replication factor 1); the chart runs three."""
    objs = render(one_broker(tmp_path))
    sec = secrets(tmp_path)
    kafka_props = dict(ln.split("=", 1) for ln in sec[f"{RELEASE}-credentials"]["kafka.properties"].decode().split())
    sts = by(objs, "StatefulSet", "kafka")
    env = {e["name"]: e["value"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
    job = by(objs, "Job", "kafka-topics")
    job_script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    uid = sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    host = f"{RELEASE}-kafka-0.{env['HEADLESS']}"
    launcher = ("#!/bin/bash\nexec java $KAFKA_HEAP_OPTS -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties"
                " -cp '%s/*' %s \"$@\"\n")
    files = {
        "/etc/datapipe/kafka/start.sh": (by(objs, "ConfigMap", "kafka")["data"]["start.sh"].encode(), 0o644, 0, 0),
        # a pod's /etc/hosts names the pod itself, and the JVM asks for it
        "/etc/hosts": (f"127.0.0.1 localhost {socket.gethostname()} {host}\n".encode(), 0o644, 0, 0),
        "/opt/kafka/bin/kafka-storage.sh": ((launcher % (KAFKA_LIBS, "kafka.tools.StorageTool")).encode(), 0o755, 0, 0),
        "/opt/kafka/bin/kafka-server-start.sh": ((launcher % (KAFKA_LIBS, "kafka.Kafka")).encode(), 0o755, 0, 0),
        "/opt/kafka/bin/kafka-topics.sh": ((launcher % (KAFKA_LIBS, "org.apache.kafka.tools.TopicCommand")).encode(), 0o755, 0, 0),
        "/opt/kafka/bin/kafka-acls.sh": ((launcher % (KAFKA_LIBS, "kafka.admin.AclCommand")).encode(), 0o755, 0, 0),
        "/opt/kafka/config/log4j.properties": (LOG4J.encode(), 0o644, 0, 0),
        "/etc/datapipe/job.sh": (job_script.encode(), 0o644, 0, 0),
        "/etc/datapipe/check.py": (CHECK_KAFKA.encode(), 0o644, 0, 0),
        **mounted(sec[f"{RELEASE}-credentials"], 0o440, 0, uid, "/etc/datapipe/secrets", ["kafka.properties"]),
        **mounted(sec[f"{RELEASE}-tls"], 0o440, 0, uid, "/etc/datapipe/tls"),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = textwrap.dedent(f"""
        mkdir -p /var/lib/kafka/data && chown {uid}:{uid} /var/lib/kafka/data
        export POD_NAME={RELEASE}-kafka-0 {exports} LOG_DIR=/tmp/kafka-logs
        setpriv --reuid={uid} --regid={uid} --clear-groups bash /etc/datapipe/kafka/start.sh > /tmp/broker.log 2>&1 &
        broker=$!
        trap 'rc=$?; kill $broker 2>/dev/null; wait $broker 2>/dev/null || true; [ $rc = 0 ] || tail -60 /tmp/broker.log' EXIT
        for i in $(seq 120); do (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null && break; \
          kill -0 $broker 2>/dev/null || {{ cat /tmp/broker.log; exit 3; }}; sleep 1; done
        if ! KAFKA_HEAP_OPTS=-Xmx128m setpriv --reuid={uid} --regid={uid} --clear-groups bash /etc/datapipe/job.sh > /tmp/job.log 2>&1; then
          echo "topic job failed:"; tail -40 /tmp/job.log; tail -40 /tmp/broker.log; exit 4; fi
        {PY} /etc/datapipe/check.py {host} || {{ tail -40 /tmp/broker.log; exit 5; }}
        """)
    env_pw = {f"PW_{k.split('.')[0].upper()}": v for k, v in kafka_props.items()}
    script = " ".join(f"export {k}={v};" for k, v in env_pw.items()) + script
    r = sandbox(tmp_path, files, script, timeout=300)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "checks passed" in r.stdout, r.stdout


LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
"""

CHECK_KAFKA = r'''
import os, sys
from confluent_kafka import Producer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

host = sys.argv[1]


def conf(user, mech="PLAIN", pw=None):
    return {"bootstrap.servers": f"{host}:9092", "security.protocol": "SASL_SSL",
            "sasl.mechanism": mech, "sasl.username": user,
            "sasl.password": pw or os.environ["PW_" + user.upper()],
            "ssl.ca.location": "/etc/datapipe/tls/ca.crt", "socket.timeout.ms": 10000}


admin = AdminClient(conf("admin"))
md = admin.list_topics(timeout=20)
topics = set(md.topics)
want = {"cdc.postgres.users", "cdc.postgres.products", "cdc.errors.dlq", "datapipe-offsets", "_schemas"}
assert want <= topics, topics
assert len(md.topics["cdc.postgres.users"].partitions) == 6
res = ConfigResource(ConfigResource.Type.TOPIC, "cdc.postgres.users")
cfg = admin.describe_configs([res])[res].result(timeout=20)
assert cfg["retention.ms"].value == "604800000" and cfg["compression.type"].value == "lz4", cfg
res = ConfigResource(ConfigResource.Type.TOPIC, "datapipe-offsets")
assert admin.describe_configs([res])[res].result(timeout=20)["cleanup.policy"].value == "compact"


def produce(user, mech, topic):
    p = Producer({**conf(user, mech), "message.timeout.ms": 8000})
    errs = []
    p.produce(topic, b"v", on_delivery=lambda e, m: errs.append(e))
    p.flush(15)
    return errs[0] if errs else "no delivery report"


# capture (SCRAM-SHA-512) writes its topics; the archive (PLAIN) may not
assert produce("capture", "SCRAM-SHA-512", "cdc.postgres.users") is None
e = produce("archive", "PLAIN", "cdc.postgres.users")
assert e is not None and "authoriz" in str(e).lower(), e
e = produce("archive", "PLAIN", "cdc.errors.dlq")
assert e is None, e
# a wrong password is refused, and the broker says why
errors = []
bad = AdminClient({**conf("capture", "SCRAM-SHA-512", pw="wrong"), "error_cb": errors.append,
                   "log_level": 0})
try:
    bad.list_topics(timeout=8)
    raise SystemExit("a wrong password was let in")
except KafkaException:
    pass
for _ in range(10):  # error_cb is served by poll
    if errors:
        break
    bad.poll(0.5)
assert any("Authentication failed" in str(e) for e in errors), errors
print("kafka checks passed")
'''


def test_postgresql_settings_and_init_scripts_on_a_real_server(tmp_path):
    """The chart's PostgreSQL arguments, pg_hba.conf and init scripts on
    Debian's PostgreSQL 15: it starts with TLS and the seed's settings,
    loads the seed's schema, and the capture user connects over TLS with
    verify-full, may stream replication and read users and products, and
    is refused over cleartext and on any other table."""
    objs = render()
    sec = secrets(tmp_path)
    sts = by(objs, "StatefulSet", "postgresql")
    ctr = sts["spec"]["template"]["spec"]["containers"][0]
    cm = by(objs, "ConfigMap", "postgresql")["data"]
    creds = dict(ln.split("=", 1) for ln in sec[f"{RELEASE}-credentials"]["postgres.properties"].decode().split())
    # the server's arguments as the pod passes them to the image's entrypoint
    args = ctr["args"][0].split("exec docker-entrypoint.sh postgres", 1)[1].split()
    assert args[0] == "-c" and len(args) % 2 == 0
    server_args = " ".join(shlex.quote(a) for a in args)
    host = f"{RELEASE}-postgresql.{NAMESPACE}.svc"
    # Debian's postgres user plays the image's (uid 999, fsGroup 999)
    pg_uid = int(subprocess.run(["id", "-u", "postgres"], capture_output=True, text=True).stdout)
    pg_gid = int(subprocess.run(["id", "-g", "postgres"], capture_output=True, text=True).stdout)
    files = {
        "/etc/datapipe/pg/pg_hba.conf": (cm["pg_hba.conf"].encode(), 0o644, 0, 0),
        "/etc/datapipe/sql/schema.sql": (cm["schema.sql"].encode(), 0o644, 0, 0),
        "/etc/datapipe/sql/capture-user.sql": (cm["capture-user.sql"].encode(), 0o644, 0, 0),
        "/etc/datapipe/init/10-schema.sh": (cm["10-schema.sh"].encode(), 0o644, 0, 0),
        "/etc/datapipe/init/20-capture-user.sh": (cm["20-capture-user.sh"].encode(), 0o644, 0, 0),
        "/etc/hosts": (f"127.0.0.1 localhost {host}\n".encode(), 0o644, 0, 0),
        "/etc/datapipe/check.py": (CHECK_PG.encode(), 0o644, 0, 0),
        **mounted(sec[f"{RELEASE}-credentials"], 0o440, 0, pg_gid, "/etc/datapipe/secrets", ["postgres.properties"]),
        **mounted(sec[f"{RELEASE}-tls"], 0o440, 0, pg_gid, "/etc/datapipe/tls", ["tls.crt", "tls.key", "ca.crt"]),
    }
    data = "/var/lib/postgresql/data/pgdata"
    as_pg = f"setpriv --reuid={pg_uid} --regid={pg_gid} --clear-groups"
    script = textwrap.dedent(f"""
        mkdir -p /var/lib/postgresql/data /var/run/postgresql
        chown postgres: /var/lib/postgresql/data /var/run/postgresql
        export PGDATA={data} POSTGRES_DB=ecommerce PGUSER=postgres PGDATABASE=ecommerce HOME=/tmp
        (umask 077; sed -n 's/^superuser\\.password=//p' /etc/datapipe/secrets/postgres.properties > /tmp/pw)
        chown postgres /tmp/pw
        {as_pg} {PG_BIN}/initdb -D {data} -U postgres --pwfile=/tmp/pw > /tmp/initdb.log 2>&1 || {{ cat /tmp/initdb.log; exit 3; }}
        rm /tmp/pw
        {as_pg} {PG_BIN}/pg_ctl -D {data} -w -t 60 -l /tmp/pg.log start -o {shlex.quote(server_args)} || {{ cat /tmp/pg.log; exit 4; }}
        trap '{as_pg} {PG_BIN}/pg_ctl -D {data} -m fast stop >/dev/null 2>&1 || true' EXIT
        {as_pg} {PG_BIN}/createdb -h /var/run/postgresql ecommerce
        for f in /etc/datapipe/init/*.sh; do PGHOST=/var/run/postgresql {as_pg} bash "$f" || {{ echo "$f failed"; exit 5; }}; done
        {PY} /etc/datapipe/check.py {host} || {{ tail -20 /tmp/pg.log; exit 6; }}
        """)
    script = f"export CAPTURE_PW={shlex.quote(creds['capture.password'])};" + script
    r = sandbox(tmp_path, files, script, timeout=180)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "postgresql checks passed" in r.stdout, r.stdout


CHECK_PG = r'''
import os, sys
import psycopg

host = sys.argv[1]
common = dict(host=host, port=5432, dbname="ecommerce", user="debezium",
              password=os.environ["CAPTURE_PW"], connect_timeout=10)
with psycopg.connect(**common, sslmode="verify-full", sslrootcert="/etc/datapipe/tls/ca.crt") as c:
    assert c.execute("SHOW wal_level").fetchone()[0] == "logical"
    assert c.execute("SHOW ssl").fetchone()[0] == "on"
    assert c.execute("SHOW shared_buffers").fetchone()[0] == "256MB"
    assert c.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM products").fetchone()[0] == 0
    r = c.execute("SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = 'debezium'").fetchone()
    assert r == (True, False), r
    assert c.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'debezium_publication'").fetchone()[0] == 1
    try:
        c.execute("INSERT INTO users (user_id, email) VALUES (gen_random_uuid(), 'x@y')")
        raise SystemExit("the capture user could write a table")
    except psycopg.errors.InsufficientPrivilege:
        c.rollback()
    try:
        c.execute("SELECT count(*) FROM pg_authid")
        raise SystemExit("the capture user could read pg_authid")
    except psycopg.errors.InsufficientPrivilege:
        c.rollback()
with psycopg.connect(**common, sslmode="verify-full", sslrootcert="/etc/datapipe/tls/ca.crt",
                     replication="database") as r:
    r.execute("IDENTIFY_SYSTEM")
try:
    psycopg.connect(**common, sslmode="disable").close()
    raise SystemExit("a cleartext connection was let in")
except psycopg.OperationalError as e:
    assert "no pg_hba.conf entry" in str(e) or "SSL off" in str(e), e
print("postgresql checks passed")
'''
