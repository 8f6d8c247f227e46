"""Secrets never leak. A pipeline runs with known secrets, given the two ways
a secret comes in (${file:/path:key} and ${env:NAME}): the capture user's
password, the S3 secret key, a client-key passphrase and both services' Kafka
SASL passwords. Then every place a
secret could surface is searched for them: both services' logs at debug
level, their /metrics and /health, `datapipe status` (text and JSON), the
services' --help and config-docs, configuration errors about the keys that
hold them, and the error of a refused login with a wrong password."""
import resource
import secrets
import signal
import subprocess
import time
import uuid

import dpcheck


def run(binary, env, *args):
    r = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_secrets_never_reach_logs_metrics_status_or_errors(pipeline, binary):
    p = pipeline
    user, password = f"sec_{p.id}", "Pw" + secrets.token_hex(12)
    ssl_pass = "Ssl" + secrets.token_hex(12)
    wrong = "Wrong" + secrets.token_hex(12)
    s3_secret = p.env["AWS_SECRET_ACCESS_KEY"]
    p.sql(f"CREATE ROLE {user} LOGIN REPLICATION PASSWORD '{password}'")
    p.sql(f"GRANT SELECT ON users, products TO {user}")
    p.sql(f"CREATE PUBLICATION pub_{p.id} FOR TABLE users, products")
    vault = p.tmp / "vault.properties"
    vault.write_text(f"db.password={password}\ns3.secret={s3_secret}\n")
    vault.chmod(0o600)
    p.env["SSL_KEY_PASSPHRASE"] = ssl_pass
    cport, aport = dpcheck.free_port(), dpcheck.free_port()
    capture_cfg = p.capture_config(**{
        "database.user": user, "database.password": f"${{file:{vault}:db.password}}",
        "database.sslmode": "verify-full", "database.sslrootcert": "${env:PG_CA_FILE}",
        "database.sslpassword": "${env:SSL_KEY_PASSPHRASE}",
        "publication.autocreate.mode": "disabled", "datapipe.log.level": "debug",
        "datapipe.metrics.port": str(cport)})
    archive_cfg = p.archive_config(**{
        "aws.access.key.id": "${env:AWS_ACCESS_KEY_ID}",
        "aws.secret.access.key": f"${{file:{vault}:s3.secret}}",
        "datapipe.log.level": "debug", "datapipe.metrics.port": str(aport)})
    texts = {}
    try:
        p.start_capture(capture_cfg)
        p.wait_streaming()
        p.start("archive", archive_cfg)
        for i in range(5):
            p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'u{i}@example.com')")
        p.wait_confirmed(p.current_lsn(), timeout=120)
        for name, port in (("capture", cport), ("archive", aport)):
            for path in ("/metrics", "/health"):
                dpcheck.wait_for(lambda: dpcheck.http_get(port, path)[0] is not None, 30,
                                 what=f"{name} {path}")
                texts[f"{name} {path}"] = dpcheck.http_get(port, path)[1]
        p.drain_archive()
        _, texts["status"] = run(binary, p.env, "status", "--capture", str(capture_cfg),
                                 "--archive", str(archive_cfg))
        _, texts["status --json"] = run(binary, p.env, "status", "--capture", str(capture_cfg),
                                        "--archive", str(archive_cfg), "--json")
        assert "slot" in texts["status"], texts["status"]
    finally:
        for proc in p.procs.values():
            dpcheck.stop(proc, timeout=30)
        p.procs.clear()
    texts["capture log"], texts["archive log"] = p.log("capture"), p.log("archive")
    assert "streaming" in texts["capture log"] or "stream" in texts["capture log"]
    assert texts["archive log"], "the archive wrote no log"
    # the help and the configuration reference
    for what in ("capture", "archive"):
        _, texts[f"{what} --help"] = run(binary, p.env, what, "--help")
    _, texts["config-docs"] = run(binary, p.env, "config-docs")
    # errors about the keys that hold secrets, and a value from a secret in a
    # key that cannot take it: the key is named, the value is not
    bad = p.capture_config(**{"database.port": f"${{file:{vault}:db.password}}"})
    rc, texts["bad port"] = run(binary, p.env, "capture", "--config", str(bad))
    assert rc != 0 and "database.port" in texts["bad port"], texts["bad port"]
    bad = p.capture_config(**{"database.sslmode": "${env:SSL_KEY_PASSPHRASE}"})
    rc, texts["bad sslmode"] = run(binary, p.env, "capture", "--config", str(bad))
    assert rc != 0 and "database.sslmode" in texts["bad sslmode"], texts["bad sslmode"]
    # a refused login
    p.env["WRONG_PASSWORD"] = wrong
    bad = p.capture_config(**{"database.user": user, "database.password": "${env:WRONG_PASSWORD}",
                              "publication.autocreate.mode": "disabled"})
    rc, texts["wrong password"] = run(binary, p.env, "capture", "--config", str(bad))
    assert rc != 0 and "password authentication failed" in texts["wrong password"], \
        texts["wrong password"]
    p.sql(f"DROP PUBLICATION IF EXISTS pub_{p.id}")
    p.sql(f"REVOKE ALL ON users, products FROM {user}")
    p.sql(f"DROP ROLE IF EXISTS {user}")
    leaks = [(where, name) for where, text in texts.items()
             for name, secret in (("database.password", password), ("aws.secret.access.key", s3_secret),
                                  ("database.sslpassword", ssl_pass), ("wrong password", wrong),
                                  ("capture's kafka.sasl.password", p.env["KAFKA_CAPTURE_PASSWORD"]),
                                  ("archive's kafka.sasl.password", p.env["KAFKA_ARCHIVE_PASSWORD"]))
             if secret in text]
    assert not leaks, f"secrets found: {leaks}"
    # the texts searched are the real ones: the refused login names its user
    assert f'"{user}"' in texts["wrong password"] and len(texts) == 14, sorted(texts)
    # and the search finds a value that is printed: a ${env:} reference in a
    # key that is not secret (the publication's name) shows in its error
    control = "ctl" + secrets.token_hex(8)
    p.env["CONTROL_VALUE"] = control
    bad = p.capture_config(**{"publication.name": "${env:CONTROL_VALUE}",
                              "publication.autocreate.mode": "disabled"})
    rc, shown = run(binary, p.env, "capture", "--config", str(bad))
    assert rc != 0 and control in shown, shown


def test_a_crash_leaves_no_core_dump(pipeline, binary, tmp_path):
    """A core dump would hold the passwords the process read: the services
    make themselves non-dumpable. The kernel here writes "core" into the
    working directory (kernel.core_pattern); with the core size limit
    lifted, a capture killed by SIGABRT must still leave none."""
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    assert not pattern.startswith("|"), f"core_pattern {pattern!r} pipes cores away: test not meaningful"
    p = pipeline
    work = tmp_path / "cwd"
    work.mkdir()

    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    # first, that a crash of a process that may dump leaves a core here, so
    # the check below can fail (the kernel and the limit allow core files)
    sleeper = subprocess.Popen(["sleep", "30"], cwd=work, preexec_fn=unlimited)
    sleeper.send_signal(signal.SIGABRT)
    sleeper.wait(timeout=10)
    dpcheck.wait_for(lambda: any(f.name.startswith("core") for f in work.iterdir()), 5,
                     interval=0.1, what="the control's core file")
    for f in work.iterdir():
        f.unlink()
    cfg = p.capture_config()
    proc = subprocess.Popen([str(binary), "capture", "--config", str(cfg)], env=p.env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=unlimited)
    p.procs["capture"] = proc
    p.wait_streaming()
    proc.send_signal(signal.SIGABRT)
    assert proc.wait(timeout=30) == -signal.SIGABRT
    time.sleep(1)
    cores = [f.name for f in work.iterdir() if f.name.startswith("core")]
    assert not cores, f"core dump written: {cores}"
