"""Edges of capture: unchanged TOASTed values, truncates, and the errors
a user must be able to read (role without REPLICATION, slot held by
another process, missing table)."""
import json
import secrets
import subprocess
import uuid

import dpcheck
from test_0005_snapshot import consume_all


def test_unchanged_toast_value_is_debeziums_placeholder(pipeline):
    p = pipeline
    p.sql("ALTER TABLE users ADD COLUMN bio text")
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data"}))
    p.wait_streaming()
    uid = str(uuid.uuid4())
    big = secrets.token_hex(20000)  # 40 kB of incompressible text: stored out of line
    p.sql(f"INSERT INTO users (user_id, email, bio) VALUES ('{uid}', 't@example.com', '{big}')")
    p.sql(f"UPDATE users SET tier = 'gold' WHERE user_id = '{uid}'")
    p.wait_confirmed(p.current_lsn())
    ev = sorted((json.loads(m.value())["payload"] for m in consume_all(p.env, [p.topics["users"]], f"t-{p.id}")
                 if m.value()), key=lambda e: e["source"]["lsn"])
    assert [e["op"] for e in ev] == ["c", "u"]
    assert ev[0]["after"]["bio"] == big
    assert ev[1]["after"]["bio"] == "__debezium_unavailable_value"
    assert ev[1]["after"]["tier"] == "gold"


def test_truncate_skipped_by_default_and_emitted_when_asked(pipeline):
    p = pipeline
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data", "skipped.operations": "none"}))
    p.wait_streaming()
    p.sql(f"INSERT INTO products (product_id, name) VALUES ('{uuid.uuid4()}', 'x')")
    p.sql("TRUNCATE products")
    p.wait_confirmed(p.current_lsn())
    msgs = sorted(consume_all(p.env, [p.topics["products"]], f"tr-{p.id}"),
                  key=lambda m: json.loads(m.value())["payload"]["source"]["lsn"])
    ops = [json.loads(m.value())["payload"]["op"] for m in msgs]
    assert ops == ["c", "t"]
    t = [m for m in msgs if json.loads(m.value())["payload"]["op"] == "t"][0]
    assert t.key() is None
    pl = json.loads(t.value())["payload"]
    assert pl["before"] is None and pl["after"] is None and pl["source"]["table"] == "products"


def test_errors_name_the_problem(pipeline, binary, env):
    p = pipeline
    role = f"norepl_{p.id}"
    p.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    try:
        cfg = p.capture_config(**{"database.user": role, "database.password": "pw"})
        r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1 and f'user "{role}" lacks the REPLICATION attribute' in r.stderr, r.stderr
    finally:
        p.sql(f"DROP ROLE {role}")
    # a table that is not there
    cfg = p.capture_config(**{"table.include.list": "public.users,public.nosuch"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "nosuch" in r.stderr and "does not exist" in r.stderr, r.stderr
    # the stack's PostgreSQL takes TCP clients over TLS only (hostssl): a
    # cleartext one is refused, and the error names the key that chose it
    cfg = p.capture_config(**{"database.sslmode": "disable"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "no encryption" in r.stderr and 'database.sslmode is "disable"' in r.stderr, r.stderr
    # verify-full checks the host name: the certificate is for 127.0.0.1 only
    cfg = p.capture_config(**{"database.sslmode": "verify-full", "database.hostname": "localhost",
                              "database.sslrootcert": "${env:PG_CA_FILE}"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert 'does not match host name "localhost"' in r.stderr, r.stderr
    assert 'database.sslmode is "verify-full"' in r.stderr, r.stderr
    # a CA the client does not trust: refused too
    other_ca = p.tmp / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=someone else", "-keyout", str(p.tmp / "other-ca.key"), "-out",
                    str(other_ca)], check=True, capture_output=True, timeout=60)
    cfg = p.capture_config(**{"database.sslmode": "verify-ca", "database.sslrootcert": str(other_ca)})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "certificate verify failed" in r.stderr, r.stderr
    # an unknown mode is a configuration error naming the key
    cfg = p.capture_config(**{"database.sslmode": "required"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "database.sslmode" in r.stderr, r.stderr
    # the slot held by a running capture
    cfg = p.capture_config()
    p.start("capture", cfg)
    p.wait_streaming()
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and f'replication slot "slot_{p.id}" is active for pid' in r.stderr, r.stderr
    assert dpcheck  # the shared checker is imported for the fixture's helpers
