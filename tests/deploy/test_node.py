"""The chart's datapipe containers on a real kubelet (scripts/node): the
capture and archive pod specs as helm renders them, with their pod and
container security contexts, run as static pods on our image under
containerd and runc. Each container reports who it runs as, what it may
write and which capabilities it holds, then `datapipe version`; the test
checks that against what the chart asks for.

`make test-node` runs it (as root: containerd, runc, the CNI bridge). The
kubelet is standalone, so volumes from Secrets and ConfigMaps are left out:
what runs is the container's image, user, file system and privileges, not
the pipeline."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, render

NODE = ROOT / ".node"
BINARY = Path(os.environ.get("DP_BUILD_DIR", ROOT / "build")) / "datapipe"

pytestmark = pytest.mark.skipif(
    os.environ.get("DP_NODE") != "1",
    reason="make test-node runs it: a kubelet over containerd and runc, as root")

# what each container prints, one fact a line
REPORT = ("echo uid=$(id -u) gid=$(id -g); "
          # the root mount's own flags (a non-root user may not write / either way)
          "case \",$(awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo),\" in "
          "*,ro,*) echo root=read-only ;; *) echo root=writable ;; esac; "
          "echo $(grep CapBnd /proc/self/status | tr -d '\\t'); "
          "echo $(grep NoNewPrivs /proc/self/status | tr -d '\\t'); "
          "echo $(grep Seccomp: /proc/self/status | tr -d '\\t'); "
          "echo version=\"$(/usr/local/bin/datapipe version)\"")


@pytest.fixture(scope="module")
def node():
    subprocess.run([str(ROOT / "scripts" / "node"), "up"], check=True, timeout=300)
    try:
        yield (NODE / "image.ref").read_text().strip()
    finally:
        subprocess.run([str(ROOT / "scripts" / "node"), "down"], timeout=120)


def deployment(objs, component):
    for o in objs:
        if o["kind"] == "Deployment" and o["spec"]["template"]["metadata"]["labels"].get(
                "app.kubernetes.io/name") == component:
            return o
    raise AssertionError(f"no Deployment of component {component}")


def static_pod(dep, name, image):
    """dep's pod template as a static pod: the same security contexts and
    resources, our image loaded on the node, REPORT as its command"""
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": spec.get("securityContext", {}),
            "containers": [{
                "name": c["name"], "image": image, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", REPORT],
                "securityContext": c.get("securityContext", {}),
                "resources": c.get("resources", {}),
            }],
        },
    }


def pod_log(name, container, timeout=120):
    """the container's output, once it printed its last line (CRI log
    format: time, stream, tag, text)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in (NODE / "pods").glob(f"default_{name}-*/{container}/0.log"):
            lines = [ln.split(" ", 3)[3] for ln in f.read_text().splitlines() if ln.count(" ") >= 3]
            if any(ln.startswith("version=") for ln in lines):
                return dict(ln.split("=", 1) if "=" in ln else ln.split(":", 1) for ln in lines)
        time.sleep(1)
    tail = (NODE / "logs" / "kubelet.log").read_text()[-3000:]
    pytest.fail(f"pod {name}: no report within {timeout} s; kubelet log:\n{tail}")


@pytest.mark.parametrize("component", ["capture", "archive"])
def test_chart_container_runs_on_a_kubelet_as_the_chart_says(node, component):
    dep = deployment(render("values.yaml"), component)
    name = f"dp-{component}"
    pod = static_pod(dep, name, node)
    for old in (NODE / "pods").glob(f"default_{name}-*"):  # an earlier run's report
        shutil.rmtree(old)
    (NODE / "manifests" / f"{name}.json").write_text(json.dumps(pod))
    facts = pod_log(name, pod["spec"]["containers"][0]["name"])
    psc, csc = pod["spec"]["securityContext"], pod["spec"]["containers"][0]["securityContext"]
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    assert uid and uid != 0, "the chart must not run datapipe as root"
    assert facts["uid"].split()[0] == str(uid), facts
    assert facts["root"] == ("read-only" if csc.get("readOnlyRootFilesystem") else "writable"), facts
    if "ALL" in csc.get("capabilities", {}).get("drop", []):
        # the bounding set: a non-root process has no effective capabilities anyway
        assert int(facts["CapBnd"].strip(), 16) == 0, facts
    if csc.get("allowPrivilegeEscalation") is False:
        assert facts["NoNewPrivs"].strip() == "1", facts
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp == "RuntimeDefault":
        assert facts["Seccomp"].strip() == "2", facts  # filter mode
    host = subprocess.run([str(BINARY), "version"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
    assert facts["version"] == host, facts
