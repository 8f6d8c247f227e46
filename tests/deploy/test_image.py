"""The container image built without Docker (scripts/image build): an OCI
image layout whose config is deploy/docker/Dockerfile's, and whose root
filesystem, unpacked here by reading the layout's blobs (not with umoci), runs
the host's datapipe binary as uid 10001 with every library resolved.

Needs root (debootstrap, chroot) and Debian's mirror; the first build takes
about a minute, later ones reuse .cache/image."""
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the release build (make deploy-check passes its DP_BUILD_DIR): a sanitized
# binary would need libasan, which the image has not
BINARY = Path(os.environ.get("DP_BUILD_DIR", ROOT / "build")) / "datapipe"
OCI = ROOT / ".cache" / "image" / "oci"
USER = "10001"
ENTRYPOINT = ["/usr/local/bin/datapipe"]
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and chroot need root")


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)


def blob(digest):
    algo, _, hexd = digest.partition(":")
    assert algo == "sha256", digest
    return OCI / "blobs" / "sha256" / hexd


def read_blob(desc):
    """A descriptor's blob, checked against its digest and size."""
    data = blob(desc["digest"]).read_bytes()
    assert len(data) == desc["size"], desc
    assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]
    return data


@pytest.fixture(scope="module")
def host_version():
    assert BINARY.exists(), f"{BINARY} not built (make build)"
    out = run(str(BINARY), "version")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"datapipe \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout
    return out.stdout.strip()


@pytest.fixture(scope="module")
def image(host_version):
    """scripts/image build, then the layout's one manifest and its config."""
    b = run(str(ROOT / "scripts" / "image"), "build", "--binary", str(BINARY))
    assert b.returncode == 0, b.stdout + b.stderr
    index = json.loads((OCI / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert len(index["manifests"]) == 1, index
    desc = index["manifests"][0]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(read_blob(desc))
    config = json.loads(read_blob(manifest["config"]))
    return desc, manifest, config


@pytest.fixture(scope="module")
def rootfs(image, tmp_path_factory):
    """The image's layers extracted in order into a directory."""
    _, manifest, config = image
    top = tmp_path_factory.mktemp("image")
    root = top / "rootfs"
    root.mkdir()
    layers = manifest["layers"]
    assert len(layers) == len(config["rootfs"]["diff_ids"]) >= 2
    for layer, diff_id in zip(layers, config["rootfs"]["diff_ids"]):
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        tar_bytes = gzip.decompress(read_blob(layer))
        assert "sha256:" + hashlib.sha256(tar_bytes).hexdigest() == diff_id
        path = top / "layer.tar"
        path.write_bytes(tar_bytes)
        with tarfile.open(path) as tf:
            names = tf.getnames()
            assert not [n for n in names if os.path.basename(n).startswith(".wh.")]
            kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
            tf.extractall(root, numeric_owner=True, **kw)
        path.unlink()
    yield root
    shutil.rmtree(top)


def test_layout_is_tagged_with_the_binarys_version(image, host_version):
    desc, _, config = image
    version = host_version.split()[1]
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == f"datapipe:{version}"
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == version
    assert config["os"] == "linux" and config["architecture"] == "amd64"


def test_config_is_the_dockerfiles(image):
    _, _, config = image
    c = config["config"]
    assert c["User"] == USER
    assert c["Entrypoint"] == ENTRYPOINT
    assert c["Cmd"] == ["version"]
    assert any(e.startswith("PATH=") for e in c["Env"])
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert f"\nUSER {USER}\n" in dockerfile
    assert f"\nENTRYPOINT {json.dumps(ENTRYPOINT)}\n" in dockerfile
    assert '\nCMD ["version"]\n' in dockerfile


def test_binary_is_the_hosts(rootfs):
    inside = rootfs / "usr" / "local" / "bin" / "datapipe"
    assert inside.read_bytes() == BINARY.read_bytes()
    assert inside.stat().st_mode & 0o111 == 0o111
    assert inside.stat().st_uid == 0  # not writable by the user it runs as


def test_version_runs_as_the_images_user(rootfs, image, host_version):
    user = image[2]["config"]["User"]
    spec = f"--userspec={user}:{user}"
    out = run("chroot", spec, str(rootfs), *ENTRYPOINT, "version", env=ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == host_version
    ident = run("chroot", spec, str(rootfs), "/usr/bin/id", "-u", env=ENV)
    assert ident.stdout.strip() == user
    pw = run("chroot", str(rootfs), "/usr/bin/getent", "passwd", user, env=ENV)
    assert pw.stdout.startswith("datapipe:x:10001:10001:"), pw.stdout


def test_every_library_resolves_inside(rootfs):
    needed = re.findall(r"NEEDED\s+(\S+)", run("objdump", "-p", str(BINARY)).stdout)
    assert "librdkafka.so.1" in needed and "libpq.so.5" in needed
    out = run("chroot", str(rootfs), "/usr/bin/ldd", ENTRYPOINT[0], env=ENV)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not found" not in out.stdout, out.stdout
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", out.stdout, re.M))
    for lib in needed:
        assert lib in resolved, f"{lib} not in ldd's output:\n{out.stdout}"
        assert (rootfs / resolved[lib].lstrip("/")).exists()


def test_no_host_leftovers(rootfs):
    assert not list((rootfs / "dev").iterdir())
    assert not (rootfs / "etc" / "resolv.conf").exists()
    assert not list((rootfs / "var" / "lib" / "apt" / "lists").glob("*_Packages"))
    assert (rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt").stat().st_size > 0
