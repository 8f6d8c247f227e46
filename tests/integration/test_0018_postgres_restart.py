"""Capture heals itself when PostgreSQL restarts, in a fast shutdown and in
an immediate one (a crash and its recovery): it keeps running, says in its
log and /health that it waits for PostgreSQL, reconnects to the slot with
backoff, and resumes from the confirmed position with no gap and no
duplicate. `datapipe load` reconnects too, and its ledger counts only
committed changes (in-doubt commits resolved by txid_status)."""
import time

import pytest

import dpcheck


@pytest.mark.parametrize("signal_name", ["INT", "QUIT"], ids=["fast", "immediate"])
def test_capture_resumes_after_a_postgres_restart(pipeline, signal_name):
    p = pipeline
    port = dpcheck.free_port()
    cfg = p.capture_config(**{"snapshot.mode": "no_data", "datapipe.metrics.port": str(port)})
    proc = p.start_capture(cfg)
    p.wait_streaming()
    ledger = p.tmp / "ledger.json"
    load = p.start_load(ledger, 500, 30, 7, "--synchronous-commit", "on")
    time.sleep(5)
    try:
        dpcheck.stack("stop", "postgres", signal_name)
        dpcheck.wait_for(lambda: "waiting for postgresql" in (dpcheck.http_get(port, "/health")[1] or ""),
                         30, what="/health to say capture waits for PostgreSQL")
        status, body, _ = dpcheck.http_get(port, "/health")
        assert status == 503, (status, body)
        assert p.procs["capture"].poll() is None, p.log("capture")[-3000:]
        time.sleep(3)
    finally:
        dpcheck.stack("up")
    assert load.wait(timeout=180) == 0, (p.tmp / "load.log").read_text()
    dpcheck.wait_for(lambda: dpcheck.http_get(port, "/health")[0] == 200, 90,
                     what="capture to be healthy again")
    assert proc.poll() is None
    log = p.log("capture")
    assert "lost the connection to PostgreSQL" in log and "reconnected to PostgreSQL" in log, log[-3000:]
    p.wait_confirmed(p.current_lsn(), timeout=180)
    p.check_against_ledger(ledger, exactly_once=True)
    assert "reconnects" in (p.tmp / "load.log").read_text()
