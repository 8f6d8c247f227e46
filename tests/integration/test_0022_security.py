"""The secured stack refuses what it must. Kafka serves clients on SASL_SSL
only (PLAIN and SCRAM-SHA-512) and authorizes every request with ACLs
(StandardAuthorizer): capture's principal writes its topics, the archive's
reads them in its group and writes its dead-letter queue, nothing more.
PostgreSQL's capture user (deploy/helm/data-ingestion-pipeline/files/sql/capture-user.sql) may stream and
read the two captured tables only. Every refusal is checked with an
independent client (confluent-kafka, psycopg), and datapipe's own refusals
name what to check without printing a secret."""
import secrets
import subprocess
import time

import pytest

import dpcheck
from conftest import create_topics


def other_ca(tmp_path):
    """A CA nobody here signed with: a client trusting only it trusts no broker."""
    ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=someone else", "-keyout", str(tmp_path / "other-ca.key"),
                    "-out", str(ca)], check=True, capture_output=True, timeout=60)
    return ca


def connect(conf, seconds=6):
    """Ask the cluster for its topics with conf; return (topic names or None,
    the error events the client reported)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    errors = []
    a = AdminClient({**conf, "error_cb": lambda e: errors.append(e),
                     "socket.connection.setup.timeout.ms": 3000, "log_level": 0})
    try:
        return set(a.list_topics(timeout=seconds).topics), errors
    except KafkaException as e:
        a.poll(1)  # serves the error events queued meanwhile (error_cb)
        return None, errors + [e.args[0]]


def test_kafka_admits_each_principal_with_each_mechanism(env):
    for who in ("admin", "capture", "archive"):
        for mech in ("PLAIN", "SCRAM-SHA-512"):
            topics, errors = connect(dpcheck.kafka_conf(env, who, mech))
            assert topics is not None and "cdc.postgres.users" in topics, (who, mech, errors)


def test_kafka_refuses_plaintext_bad_credentials_and_an_untrusted_ca(env, tmp_path):
    from confluent_kafka import KafkaError
    base = dpcheck.kafka_conf(env)
    wrong = "Wrong" + secrets.token_hex(8)
    cases = {
        # no TLS at all, and SASL without TLS: no listener speaks either
        "plaintext": ({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]}, None),
        "sasl without tls": ({**base, "security.protocol": "SASL_PLAINTEXT"}, None),
        "wrong password (PLAIN)": ({**base, "sasl.password": wrong}, KafkaError._AUTHENTICATION),
        "wrong password (SCRAM)": (dpcheck.kafka_conf(env, "capture", "SCRAM-SHA-512",
                                                      **{"sasl.password": wrong}),
                                   KafkaError._AUTHENTICATION),
        "unknown user": ({**base, "sasl.username": "nobody" + secrets.token_hex(4)},
                         KafkaError._AUTHENTICATION),
        "untrusted CA": ({**base, "ssl.ca.location": str(other_ca(tmp_path))}, KafkaError._SSL),
    }
    for name, (conf, code) in cases.items():
        topics, errors = connect(conf)
        assert topics is None, f"{name}: admitted, saw {sorted(topics)[:5]}"
        if code is not None:
            assert any(e.code() == code for e in errors), (name, [str(e) for e in errors])
        assert not any(wrong in str(e) for e in errors), name


def produce_one(conf, topic):
    """The delivery error of one record to topic (None: it was written)."""
    from confluent_kafka import Producer
    got = []
    p = Producer({**conf, "message.timeout.ms": 10000})
    p.produce(topic, b"x", on_delivery=lambda err, msg: got.append(err))
    p.flush(20)
    assert got, "no delivery report"
    return got[0]


def test_kafka_acls_keep_each_principal_to_its_own(env, pipeline):
    """With the grants of one pipeline (conftest Pipeline.grant): the archive's
    principal may not write a CDC topic, capture's may not read one nor use
    the archive's group, and neither may use the other's transactional id."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
    p = pipeline
    topic = p.topics["users"]
    arc, cap = dpcheck.kafka_conf(env, "archive"), dpcheck.kafka_conf(env, "capture", "SCRAM-SHA-512")
    assert produce_one(arc, topic).code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # capture writes its topics, but not the archive's dead-letter queue
    assert produce_one(cap, topic) is None
    dlq = f"dlq.{p.prefix}"
    create_topics(env, [dlq], partitions=1)
    p.extra_topics.append(dlq)
    assert produce_one(cap, dlq).code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce_one(arc, dlq) is None
    # capture's principal reading the archive's group, and reading a topic at all
    c = Consumer({**cap, "group.id": f"connect-arc-{p.id}", "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        codes = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not codes & {KafkaError.GROUP_AUTHORIZATION_FAILED,
                                                           KafkaError.TOPIC_AUTHORIZATION_FAILED}:
            m = c.poll(1)
            if m is not None and m.error():
                codes.add(m.error().code())
            assert m is None or m.error(), "capture's principal read a record"
        assert KafkaError.GROUP_AUTHORIZATION_FAILED in codes or \
            KafkaError.TOPIC_AUTHORIZATION_FAILED in codes, codes
    finally:
        c.close()
    c = Consumer({**cap, "group.id": "datapipe-position-reader", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        m = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (m is None or not m.error()):
            m = c.poll(1)
            assert m is None or m.error(), "capture's principal read a record"
        assert m is not None and m.error().code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, m
    finally:
        c.close()
    # the archive's principal taking capture's transactional id
    prod = Producer({**arc, "transactional.id": f"datapipe-capture-cap-{p.id}"})
    with pytest.raises(KafkaException) as e:
        prod.init_transactions(20)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e.value


def test_datapipe_names_what_kafka_refused(pipeline, binary):
    """A wrong password, an untrusted CA: capture gives up at its bounded
    transaction init with the broker's reason and the keys to check; the
    archive keeps trying and its /health says 503 with the reason. No
    password reaches the output."""
    p = pipeline
    wrong = "Wrong" + secrets.token_hex(10)
    p.env["WRONG_KAFKA_PASSWORD"] = wrong
    cfg = p.capture_config(**{"kafka.sasl.password": "${env:WRONG_KAFKA_PASSWORD}"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=p.env,
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]
    assert "kafka transaction init" in out and "SASL authentication error" in out, out[-3000:]
    assert "kafka.sasl.password" in out and wrong not in out, out[-3000:]
    cfg = p.capture_config(**{"kafka.ssl.ca.location": str(other_ca(p.tmp))})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=p.env,
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "certificate verify failed" in out, out[-3000:]
    assert "kafka.ssl.ca.location" in out, out[-3000:]
    port = dpcheck.free_port()
    proc = p.start("archive", p.archive_config(**{"kafka.sasl.password": "${env:WRONG_KAFKA_PASSWORD}",
                                                  "datapipe.metrics.port": str(port)}))
    try:
        dpcheck.wait_for(lambda: dpcheck.http_get(port, "/health")[0] == 503 and
                         "Kafka unreachable" in dpcheck.http_get(port, "/health")[1], 60,
                         what="the archive's /health to say Kafka is unreachable")
        status, body, _ = dpcheck.http_get(port, "/health")
        assert "SASL authentication error" in body and wrong not in body, body
        assert proc.poll() is None, p.log("archive")[-3000:]
    finally:
        dpcheck.stop(proc, timeout=30)
    assert wrong not in p.log("archive") and "kafka.sasl.password" in p.log("archive")


def test_archive_refused_its_group_says_so_and_heals_when_granted(pipeline):
    """An archive whose group its principal may not use: /health says 503
    with the grant it needs; once an admin grants it, the archive joins the
    group and is healthy, without a restart."""
    p = pipeline
    name = f"ungranted-{p.id}"
    port = dpcheck.free_port()
    proc = p.start("archive", p.archive_config(**{"name": name, "datapipe.metrics.port": str(port)}))
    try:
        dpcheck.wait_for(lambda: "Kafka refused access" in dpcheck.http_get(port, "/health")[1], 60,
                         what="the archive's /health to say Kafka refused it")
        status, body, _ = dpcheck.http_get(port, "/health")
        assert status == 503 and f'"connect-{name}"' in body, (status, body)
        p.grant(archive=name, name_prefixes=False)
        dpcheck.wait_for(lambda: dpcheck.http_get(port, "/health")[0] == 200, 90,
                         what="the archive to heal once granted")
        assert proc.poll() is None, p.log("archive")[-3000:]
    finally:
        dpcheck.stop(proc, timeout=30)


def test_postgres_capture_user_reads_only_its_tables(env):
    """The stack's capture user (deploy/helm/data-ingestion-pipeline/files/sql/capture-user.sql): streams
    replication and reads users and products; any other table, a write, and
    creating a publication are refused."""
    import psycopg
    admin = dict(host=env["PGHOST"], port=env["PGPORT"], dbname=env["PGDATABASE"],
                 sslmode="verify-full", sslrootcert=env["PG_CA_FILE"])
    other = "outside_" + secrets.token_hex(4)
    with psycopg.connect(user=env["PGUSER"], password=env["PGPASSWORD"], autocommit=True, **admin) as c:
        c.execute(f"CREATE TABLE {other} (id int)")
    try:
        with psycopg.connect(user=env["PG_CAPTURE_USER"], password=env["PG_CAPTURE_PASSWORD"],
                             autocommit=True, **admin) as c:
            c.execute("SELECT count(*) FROM users").fetchone()
            c.execute("SELECT count(*) FROM products").fetchone()
            role = c.execute("SELECT rolreplication, rolsuper, rolcreatedb, rolcreaterole "
                             "FROM pg_roles WHERE rolname = current_user").fetchone()
            assert role == (True, False, False, False), role
            for sql in (f"SELECT * FROM {other}", "DELETE FROM users",
                        "CREATE PUBLICATION p_refused FOR TABLE users"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    c.execute(sql)
    finally:
        with psycopg.connect(user=env["PGUSER"], password=env["PGPASSWORD"], autocommit=True, **admin) as c:
            c.execute(f"DROP TABLE {other}")
    # and a wrong password for it is refused
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(user=env["PG_CAPTURE_USER"], password="wrong" + secrets.token_hex(4),
                        connect_timeout=10, **admin).close()


def test_registry_over_https_with_basic_auth(pipeline, env):
    """The stack's registry answers on HTTPS only. Capture reaches it with
    its CA (key/value.converter.schema.registry.ssl.ca.location) and sends
    HTTP basic auth from basic.auth.user.info (USER_INFO): a recording proxy
    in front of the registry sees the header on every request, and the
    password never reaches the log. Without the CA, capture waits for the
    registry and names the TLS failure."""
    import base64
    import uuid
    import requests
    from conftest import registry_keys
    p = pipeline
    reg = env["SCHEMA_REGISTRY_URL"]
    assert reg.startswith("https://")
    plain = reg.replace("https://", "http://", 1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(plain + "/subjects", timeout=10)
    password = "Reg" + secrets.token_hex(10)
    p.env["REG_USER_INFO"] = f"datapipe:{password}"
    avro = "io.confluent.connect.avro.AvroConverter"
    base = reg.split("/apis/", 1)[0]
    with dpcheck.FaultProxy(base, lambda n, method, path: None) as proxy:
        url = proxy.url + "/apis/ccompat/v7"
        cfg = p.capture_config(**{"key.converter": avro, "value.converter": avro,
                                  **registry_keys(url), "snapshot.mode": "no_data",
                                  "key.converter.basic.auth.credentials.source": "USER_INFO",
                                  "key.converter.basic.auth.user.info": "${env:REG_USER_INFO}",
                                  "value.converter.basic.auth.credentials.source": "USER_INFO",
                                  "value.converter.basic.auth.user.info": "${env:REG_USER_INFO}"})
        p.start("capture", cfg)
        p.wait_streaming()
        p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'reg@example.com')")
        p.wait_confirmed(p.current_lsn(), timeout=120)
        want = "Basic " + base64.b64encode(f"datapipe:{password}".encode()).decode()
        with proxy.lock:
            auth = [h.get("authorization") for h in proxy.headers]
        assert auth and all(a == want for a in auth), auth
    dpcheck.stop(p.procs.pop("capture"), timeout=30)
    assert password not in p.log("capture")
    # a CA that did not sign the registry's certificate: refused, and said
    cfg = p.capture_config(**{"key.converter": avro, "value.converter": avro, **registry_keys(reg),
                              "value.converter.schema.registry.ssl.ca.location": str(other_ca(p.tmp)),
                              "key.converter.schema.registry.ssl.ca.location": str(other_ca(p.tmp)),
                              "snapshot.mode": "no_data"})
    p.start_capture(cfg)
    p.wait_streaming()
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'reg2@example.com')")
    dpcheck.wait_for(lambda: "certificate" in p.log("capture").lower(), 90,
                     what="capture to name the registry's TLS failure")
    assert "waiting for the schema registry" in p.log("capture"), p.log("capture")[-3000:]
