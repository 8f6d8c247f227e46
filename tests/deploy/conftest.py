"""The deployment checks: the Helm chart rendered by a real helm, every
object validated by a real kube-apiserver over a real etcd (server-side dry
run, strict field validation). scripts/setup k8s builds all three from the
Go module proxy into .cache/bin; these fixtures start and stop the servers.
No cluster runs: nothing is scheduled, no image is pulled."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".cache" / "bin"
CHART = ROOT / "deploy" / "helm" / "data-ingestion-pipeline"
RELEASE, NAMESPACE = "dip", "pipeline"
TOKEN = "deploy-checks-token"


def tool(name):
    path = BIN / name
    assert path.exists(), f"{path} missing: run scripts/setup k8s"
    return str(path)


def helm(*args, timeout=120):
    r = subprocess.run([tool("helm"), *args], capture_output=True, text=True, timeout=timeout)
    return r


def render(*values, sets=()):
    """helm template of the chart with the given values files (relative to
    the chart) and --set pairs: the list of objects."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for v in values:
        args += ["-f", str(CHART / v)]
    for s in sets:
        args += ["--set", s]
    r = helm(*args)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, proc, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} not ready within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class ApiServer:
    """A client of the test's kube-apiserver: discovery, and server-side
    dry runs with strict field validation."""

    def __init__(self, url, ca):
        self.url, self.ca = url, ca
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + TOKEN
        self.s.verify = ca
        # the machine may name another CA bundle in REQUESTS_CA_BUNDLE, which
        # a session would prefer to its own verify
        self.s.trust_env = False
        self._kinds = None

    def get(self, path):
        r = self.s.get(self.url + path, timeout=30)
        r.raise_for_status()
        return r.json()

    def kinds(self):
        """(apiVersion, kind) -> (collection path prefix, namespaced)"""
        if self._kinds is None:
            out = {}
            groups = [("/api/v1", "v1")]
            for g in self.get("/apis")["groups"]:
                for v in g["versions"]:
                    groups.append((f"/apis/{v['groupVersion']}", v["groupVersion"]))
            for base, gv in groups:
                for res in self.get(base)["resources"]:
                    if "/" in res["name"]:
                        continue
                    out.setdefault((gv, res["kind"]), (f"{base}", res["name"], res["namespaced"]))
            self._kinds = out
        return self._kinds

    def path(self, obj, namespace):
        key = (obj["apiVersion"], obj["kind"])
        assert key in self.kinds(), f"the API server serves no {key}"
        base, plural, namespaced = self.kinds()[key]
        return f"{base}/namespaces/{namespace}/{plural}" if namespaced else f"{base}/{plural}"

    def create(self, obj, namespace=NAMESPACE, dry_run=True):
        """POST obj; returns the response (status and body as the server says)."""
        q = "?fieldValidation=Strict" + ("&dryRun=All" if dry_run else "")
        return self.s.post(self.url + self.path(obj, namespace) + q, data=json.dumps(obj),
                           headers={"Content-Type": "application/json"}, timeout=30)


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory):
    d = tmp_path_factory.mktemp("kube")
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True,
                   capture_output=True, timeout=60)
    subprocess.run(["openssl", "rsa", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub")],
                   check=True, capture_output=True, timeout=60)
    (d / "tokens.csv").write_text(f"{TOKEN},deploy-checks,1,system:masters\n")
    etcd_log, api_log = d / "etcd.log", d / "apiserver.log"
    etcd = subprocess.Popen(
        [tool("etcd"), "--data-dir", str(d / "etcd"), "--log-level", "warn",
         "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
         "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-cluster", f"default=http://127.0.0.1:{peer_port}"],
        stdout=open(etcd_log, "w"), stderr=subprocess.STDOUT)
    api = None
    try:
        wait_until("etcd", lambda: requests.get(f"http://127.0.0.1:{etcd_port}/health",
                                                 timeout=2).ok, 60, etcd, etcd_log)
        api = subprocess.Popen(
            [tool("kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
             f"--secure-port={api_port}", "--bind-address=127.0.0.1",
             # loopback only: nothing advertises this server to a cluster
             "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
             f"--cert-dir={d / 'certs'}", f"--token-auth-file={d / 'tokens.csv'}",
             "--authorization-mode=AlwaysAllow",
             "--service-account-issuer=https://kubernetes.default.svc",
             f"--service-account-key-file={d / 'sa.pub'}",
             f"--service-account-signing-key-file={d / 'sa.key'}",
             "--service-cluster-ip-range=10.96.0.0/16"],
            stdout=open(api_log, "w"), stderr=subprocess.STDOUT)
        url = f"https://127.0.0.1:{api_port}"
        ca = str(d / "certs" / "apiserver.crt")
        wait_until("kube-apiserver", lambda: os.path.exists(ca) and requests.get(
            url + "/readyz", headers={"Authorization": "Bearer " + TOKEN}, verify=ca,
            timeout=5).ok, 120, api, api_log)
        server = ApiServer(url, ca)
        # the release's namespace exists for real; everything else is a dry run
        r = server.create({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": NAMESPACE}}, dry_run=False)
        assert r.status_code in (201, 409), r.text
        yield server
    finally:
        if api:
            stop(api)
        stop(etcd)
        shutil.rmtree(d / "etcd", ignore_errors=True)
