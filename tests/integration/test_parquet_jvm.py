"""Parquet files written by src/parquet/writer.c, read by parquet-java, the JVM
reader that Spark, Hive and Trino embed (tests/jvm, built by `scripts/setup
jvmreader` from Maven Central), and compared exactly with pyarrow's reading
of the same files and with the rows the writer was given.

The files come from the unit test binary test_parquet (DP_BUILD_DIR, default
build/) run with DP_PARQUET_OUT_DIR, as in test_parquet_readback.py: every
codec (none, snappy, gzip, zstd), several row groups, dictionaries, many
pages, an empty file and the random property-style files (DP_PARQUET_SEEDS,
default 1..3 here). parquet-java reads with page CRC verification on.

Values are compared with their types (a bool is not an int): strings as
strings, ints, timestamps as int64 milliseconds since the epoch, nulls.

Run: .venv/bin/python -m pytest tests/integration/test_parquet_jvm.py
"""
import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dpcheck

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "jvm"))
import jvmreader  # noqa: E402

SEEDS = [s.strip() for s in os.environ.get("DP_PARQUET_SEEDS", "1,2,3").split(",") if s.strip()]
CODECS = dpcheck.PARQUET_CODECS
SAMPLES = dpcheck.parquet_sample_names(SEEDS)
# how parquet-java describes each of the writer's column types
JVM_TYPES = {
    "bool": ("BOOLEAN", None),
    "int32": ("INT32", None),
    "int64": ("INT64", None),
    "string": ("BINARY", "STRING"),
    "timestamp_ms_utc": ("INT64", "TIMESTAMP(MILLIS,true)"),
}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return dpcheck.write_parquet_samples(tmp_path_factory.mktemp("parquet-jvm"), SEEDS)


@pytest.fixture(scope="module")
def jvm(out_dir):
    """Every sample read by parquet-java in one JVM: {name: JvmFile}."""
    paths = [out_dir / f"{n}.parquet" for n in SAMPLES]
    for p in paths:
        assert p.exists(), f"test_parquet wrote no {p.name}"
    got = {Path(f.path).stem: f for f in jvmreader.read_files(paths)}
    assert sorted(got) == sorted(SAMPLES)
    return got


def typed(rows):
    """Rows with each value tagged by its type, so True never equals 1."""
    return [[(type(v).__name__, v) for v in r] for r in rows]


def arrow_rows(path):
    table = pq.read_table(path)
    cols = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        cols.append(col.to_pylist())
    return [list(r) for r in zip(*cols)] if cols else []


@pytest.mark.parametrize("name", SAMPLES)
def test_parquet_java_reads_what_pyarrow_reads(out_dir, jvm, name):
    exp = json.loads((out_dir / f"{name}.json").read_text(encoding="utf-8"))
    path = out_dir / exp["file"]
    f = jvm[name]
    h = f.header
    assert h["num_rows"] == exp["num_rows"] == len(f.rows)
    assert h["created_by"] == "datapipe"
    assert h["kv"] == exp["kv"]
    assert h["row_groups"] == pq.ParquetFile(path).metadata.num_row_groups
    assert f.columns == [c["name"] for c in exp["columns"]]
    for col, c in zip(h["columns"], exp["columns"]):
        assert (col["physical"], col["logical"]) == JVM_TYPES[c["type"]], c["name"]
        assert col["repetition"] == ("OPTIONAL" if c["nullable"] else "REQUIRED"), c["name"]

    want = typed(arrow_rows(path))
    got = typed(f.rows)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"row {i} differs between parquet-java and pyarrow"
    # and both are exactly what the writer was given
    assert got == typed(exp["rows"])


def test_every_codec_is_covered(jvm):
    codecs = {n.rsplit("_", 1)[1] for n in jvm if n.startswith("codec_")}
    assert codecs == set(CODECS)
    assert sum(len(jvm[f"codec_{c}"].rows) for c in CODECS) > 0


def test_reader_reports_a_corrupt_file(out_dir, tmp_path):
    """The JVM reader fails loudly (it is a check, not a best effort): a
    flipped byte inside a data page fails its CRC."""
    src = (out_dir / "codec_none.parquet").read_bytes()
    bad = bytearray(src)
    md = pq.ParquetFile(out_dir / "codec_none.parquet").metadata
    cc = md.row_group(0).column(0)
    bad[cc.data_page_offset + cc.total_compressed_size // 2] ^= 0xFF
    p = tmp_path / "corrupt.parquet"
    p.write_bytes(bytes(bad))
    with pytest.raises(jvmreader.JvmReadError) as e:
        list(jvmreader.read_files([p]))
    assert "corrupt.parquet" in str(e.value)
