"""Python side of the JVM Parquet reader (tests/jvm/src/main/java/ReadParquet.java).

    import sys; sys.path.insert(0, "tests/jvm"); import jvmreader
    for f in jvmreader.read_files(["a.parquet", "b.parquet"]):
        f.header["num_rows"], f.columns, f.rows   # rows: lists in column order

read_files runs one JVM for all the files (its start costs seconds) and
yields one JvmFile per file, in order, holding only that file's rows. It
builds the reader first with `scripts/setup jvmreader` (a no-op once built;
cached in .cache/jvmreader). Values are as parquet-java decodes them:
strings for string columns, ints (timestamps as their raw int64), bools,
None for nulls.
"""
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "jvmreader"


class JvmReadError(Exception):
    pass


class JvmFile:
    def __init__(self, header):
        self.header = header
        self.path = header["file"]
        self.columns = [c["name"] for c in header["columns"]]
        self.rows = []


def ensure_built(timeout=900):
    """Build the reader if needed; returns the java classpath."""
    proc = subprocess.run([str(ROOT / "scripts" / "setup"), "jvmreader"], capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise JvmReadError(f"scripts/setup jvmreader failed:\n{proc.stdout}{proc.stderr}")
    return f"{CACHE / 'classes'}:{CACHE / 'lib'}/*"


def read_files(paths, timeout=1800):
    """Yield a JvmFile per path. Raises JvmReadError when a file cannot be read."""
    paths = [str(p) for p in paths]
    if not paths:
        return
    cp = ensure_built()
    cmd = ["java", "-Xss4m", "-cp", cp, "ReadParquet"] + paths
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        cur = None
        for line in proc.stdout:
            doc = json.loads(line)
            if isinstance(doc, list):
                if cur is None or len(doc) != len(cur.columns):
                    raise JvmReadError(f"reader output out of step at {line[:200]!r}")
                cur.rows.append(doc)
            elif "schema" in doc:
                cur = JvmFile(doc)
            elif "rows_read" in doc:
                if cur is None or doc["rows_read"] != len(cur.rows):
                    raise JvmReadError(f"reader output out of step at {line[:200]!r}")
                yield cur
                cur = None
            elif "error" in doc:
                raise JvmReadError(f"parquet-java could not read {doc['file']}: {doc['error']}")
            else:
                raise JvmReadError(f"unexpected reader output {line[:200]!r}")
        rc = proc.wait(timeout=timeout)
        if rc != 0:
            raise JvmReadError(f"ReadParquet exited {rc}: {proc.stderr.read().decode(errors='replace')[-4000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
