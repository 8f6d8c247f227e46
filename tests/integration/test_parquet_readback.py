"""Parquet files written by src/parquet/writer.c, read back by independent readers.

The unit test binary test_parquet (from DP_BUILD_DIR, default build/) writes
sample files and, next to each NAME.parquet, a NAME.json with exactly the rows
it holds. Each file is then checked with pyarrow (schema, nullability, rows,
per-row-group statistics, key/value metadata, dictionary use, page CRCs),
with DuckDB (rows and aggregates), and with a small Thrift compact decoder
written here (footer structure, page headers, sizes, CRCs, decompression).

DP_PARQUET_SEEDS (comma-separated, default 1..5) picks the seeds of the
property-style random files, each written with every codec.

Run: .venv/bin/python -m pytest tests/integration/test_parquet_readback.py
"""

import json
import os
import struct
import zlib

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dpcheck

SEEDS = [s.strip() for s in os.environ.get("DP_PARQUET_SEEDS", "1,2,3,4,5").split(",") if s.strip()]
CODECS = dpcheck.PARQUET_CODECS
STATS_MAX_BYTES = 64  # writer.h PQT_STATS_MAX_BYTES

SAMPLES = dpcheck.parquet_sample_names(SEEDS)

ARROW_TYPES = {
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "string": pa.string(),
    "timestamp_ms_utc": pa.timestamp("ms", tz="UTC"),
}
PHYSICAL = {
    "bool": "BOOLEAN",
    "int32": "INT32",
    "int64": "INT64",
    "string": "BYTE_ARRAY",
    "timestamp_ms_utc": "INT64",
}
CODEC_NAMES = {"none": "UNCOMPRESSED", "snappy": "SNAPPY", "gzip": "GZIP", "zstd": "ZSTD"}
CODEC_IDS = {"none": 0, "snappy": 1, "gzip": 2, "zstd": 6}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return dpcheck.write_parquet_samples(tmp_path_factory.mktemp("parquet"), SEEDS)


def load(out_dir, name):
    exp = json.loads((out_dir / f"{name}.json").read_text(encoding="utf-8"))
    return out_dir / exp["file"], exp


# ---- a small, independent Thrift compact protocol reader ----


class Compact:
    """Decodes Thrift compact structs into {field id: value} dicts."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self):
        v = shift = 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t, in_list=False):
        if t in (1, 2):
            return (self.byte() == 1) if in_list else (t == 1)
        if t == 3:
            return struct.unpack("b", bytes([self.byte()]))[0]
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            v = struct.unpack_from("<d", self.data, self.pos)[0]
            self.pos += 8
            return v
        if t == 8:
            n = self.varint()
            v = bytes(self.data[self.pos : self.pos + n])
            self.pos += n
            return v
        if t in (9, 10):
            h = self.byte()
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            return [self.value(et, True) for _ in range(n)]
        if t == 12:
            return self.struct()
        raise AssertionError(f"unexpected compact type {t} at {self.pos}")

    def struct(self):
        out, last = {}, 0
        while True:
            b = self.byte()
            if b == 0:
                return out
            t, delta = b & 0x0F, b >> 4
            fid = last + delta if delta else self.zigzag()
            assert fid > last, "field ids must increase"
            assert fid not in out
            out[fid] = self.value(t)
            last = fid


def footer(data):
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    (flen,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - flen
    assert start >= 4
    r = Compact(data, start)
    meta = r.struct()
    assert r.pos == len(data) - 8, "footer length must cover exactly the FileMetaData"
    return meta


# ---- expectations from the JSON ----


def column_values(exp, i, lo=0, hi=None):
    return [row[i] for row in exp["rows"][lo:hi]]


def utf8(v):
    return v.encode("utf-8")


def expected_stats(col, values):
    """(null_count, has_min_max, min_raw, max_raw) as pyarrow reports them."""
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    if not present:
        return nulls, False, None, None
    if col["type"] == "string":
        raw = [utf8(v) for v in present]
        lo, hi = min(raw), max(raw)
        if len(lo) > STATS_MAX_BYTES or len(hi) > STATS_MAX_BYTES:
            return nulls, False, None, None
        return nulls, True, lo, hi
    return nulls, True, min(present), max(present)


# ---- the checks ----


@pytest.mark.parametrize("name", SAMPLES)
def test_pyarrow_schema_rows_metadata(out_dir, name):
    path, exp = load(out_dir, name)
    cols = exp["columns"]
    table = pq.read_table(path, page_checksum_verification=True)
    assert table.num_rows == exp["num_rows"] == len(exp["rows"])
    assert table.schema.names == [c["name"] for c in cols]
    for c in cols:
        field = table.schema.field(c["name"])
        assert field.type == ARROW_TYPES[c["type"]], c["name"]
        assert field.nullable == c["nullable"], c["name"]
    for i, c in enumerate(cols):
        got = table.column(c["name"])
        if c["type"] == "timestamp_ms_utc":
            got = got.cast(pa.int64())
        assert got.to_pylist() == column_values(exp, i), c["name"]

    pf = pq.ParquetFile(path)
    md = pf.metadata
    assert md.created_by == "datapipe"
    assert md.num_rows == exp["num_rows"]
    kv = {k.decode("utf-8"): v.decode("utf-8") for k, v in (md.metadata or {}).items()}
    assert kv == exp["kv"]
    for i, c in enumerate(cols):
        sc = pf.schema.column(i)
        assert sc.physical_type == PHYSICAL[c["type"]]
        assert sc.max_definition_level == (1 if c["nullable"] else 0)
        assert sc.max_repetition_level == 0
        if c["type"] == "string":
            assert sc.converted_type == "UTF8"
        if c["type"] == "timestamp_ms_utc":
            assert sc.converted_type == "TIMESTAMP_MILLIS"
            assert sc.logical_type.to_json() == '{"Type": "Timestamp", "isAdjustedToUTC": true, "timeUnit": "milliseconds", "is_from_converted_type": false, "force_set_converted_type": false}'


@pytest.mark.parametrize("name", SAMPLES)
def test_pyarrow_row_groups_statistics_dictionary(out_dir, name):
    path, exp = load(out_dir, name)
    cols = exp["columns"]
    expect = exp["expect"]
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups >= expect.get("min_row_groups", 0)
    if "max_row_groups" in expect:
        assert md.num_row_groups <= expect["max_row_groups"]
    offset = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        assert rg.num_rows > 0
        for i, c in enumerate(cols):
            cc = rg.column(i)
            values = column_values(exp, i, offset, offset + rg.num_rows)
            assert cc.num_values == rg.num_rows
            assert cc.compression == CODEC_NAMES[exp["codec"]]
            assert cc.is_stats_set, c["name"]
            st = cc.statistics
            nulls, has, lo, hi = expected_stats(c, values)
            assert st.null_count == nulls, (g, c["name"])
            assert st.num_values == rg.num_rows - nulls
            assert st.has_min_max == has, (g, c["name"])
            if has:
                assert (st.min_raw, st.max_raw) == (lo, hi), (g, c["name"])
            if cc.has_dictionary_page:
                assert c["type"] == "string"
                assert "PLAIN_DICTIONARY" in cc.encodings
            else:
                assert "PLAIN" in cc.encodings
            if c["name"] in expect.get("dictionary", []):
                assert cc.has_dictionary_page, (g, c["name"])
            if c["name"] in expect.get("plain", []):
                assert not cc.has_dictionary_page, (g, c["name"])
        offset += rg.num_rows
    assert offset == exp["num_rows"]


@pytest.mark.parametrize("name", SAMPLES)
def test_raw_footer_and_pages(out_dir, name):
    """Walk the file with the decoder above: footer fields by id, every page
    header, sizes, CRCs and decompressed lengths."""
    path, exp = load(out_dir, name)
    data = path.read_bytes()
    assert len(data) == exp["bytes"]
    meta = footer(data)
    cols = exp["columns"]
    assert meta[1] == 1  # version
    schema = meta[2]
    assert schema[0][5] == len(cols) and 3 not in schema[0]
    assert [s[4].decode() for s in schema[1:]] == [c["name"] for c in cols]
    assert [s[3] for s in schema[1:]] == [1 if c["nullable"] else 0 for c in cols]
    assert meta[3] == exp["num_rows"]
    assert meta[6] == b"datapipe"
    assert meta[7] == [{1: {}}] * len(cols)  # TYPE_ORDER for every column
    codec = pa.Codec(exp["codec"]) if exp["codec"] != "none" else None
    expect_pages = exp["expect"].get("min_data_pages", {})
    end_of_data = 4
    for g, rg in enumerate(meta[4]):
        assert rg[7] == g  # ordinal
        assert rg[5] == end_of_data  # row group file_offset: first page
        assert rg[2] == sum(ch[3][6] for ch in rg[1])
        assert rg[6] == sum(ch[3][7] for ch in rg[1])
        for i, ch in enumerate(rg[1]):
            cmd = ch[3]
            assert cmd[3] == [cols[i]["name"].encode()]
            assert cmd[4] == CODEC_IDS[exp["codec"]]
            start = cmd.get(11, cmd[9])
            assert start == end_of_data, "column chunks are contiguous"
            pos, end = start, start + cmd[7]
            unc = comp = 0
            data_pages = values = 0
            first = True
            while pos < end:
                r = Compact(data, pos)
                h = r.struct()
                hlen = r.pos - pos
                body = data[r.pos : r.pos + h[3]]
                assert len(body) == h[3]
                assert zlib.crc32(body) == h[4] & 0xFFFFFFFF
                raw = codec.decompress(body, decompressed_size=h[2]) if codec else body
                assert len(raw) == h[2]
                unc += hlen + h[2]
                comp += hlen + h[3]
                if h[1] == 2:  # DICTIONARY_PAGE
                    assert first and 11 in cmd and start == cmd[11]
                    assert h[7][1] > 0 and h[7][2] == 2
                else:
                    assert h[1] == 0  # DATA_PAGE (v1)
                    if data_pages == 0:
                        assert pos == cmd[9]  # data_page_offset: the first data page
                    else:
                        assert pos > cmd[9]
                    dph = h[5]
                    assert dph[2] == (2 if 11 in cmd else 0)
                    assert dph[3] == 3 and dph[4] == 3  # RLE levels
                    if cols[i]["nullable"]:
                        (lvl_len,) = struct.unpack_from("<I", bytes(raw[:4]))
                        assert 4 + lvl_len <= len(raw)
                    data_pages += 1
                    values += dph[1]
                    assert dph[1] <= 20000
                first = False
                pos = r.pos + h[3]
            assert pos == end
            assert (unc, comp) == (cmd[6], cmd[7])
            assert values == cmd[5] == rg[3]
            stats = cmd[12]
            assert 3 in stats  # null_count always
            assert (5 in stats) == (6 in stats)
            enc = cmd[13]
            assert sum(e[3] for e in enc if e[1] == 0) == data_pages
            assert data_pages >= expect_pages.get(cols[i]["name"], 1)
            end_of_data = end
    assert end_of_data == len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]


def sql_ident(name):
    return '"' + name.replace('"', '""') + '"'


@pytest.mark.parametrize("name", SAMPLES)
def test_duckdb_rows_and_aggregates(out_dir, name):
    path, exp = load(out_dir, name)
    cols = exp["columns"]
    con = duckdb.connect()
    src = "read_parquet('" + str(path).replace("'", "''") + "')"
    proj = []
    for c in cols:
        q = sql_ident(c["name"])
        proj.append(f"epoch_ms({q})" if c["type"] == "timestamp_ms_utc" else q)
    rows = con.execute(f"SELECT {', '.join(proj)} FROM {src} ORDER BY id").fetchall()
    assert [list(r) for r in rows] == exp["rows"]

    aggs = ["count(*)"]
    for c in cols:
        q = sql_ident(c["name"])
        aggs.append(f"count({q})")
        if c["type"] == "string":
            aggs.append(f"sum(strlen({q}))")
        elif c["type"] == "timestamp_ms_utc":
            aggs += [f"min(epoch_ms({q}))", f"max(epoch_ms({q}))"]
        else:
            aggs += [f"min({q})", f"max({q})"]
    got = con.execute(f"SELECT {', '.join(aggs)} FROM {src}").fetchone()
    want = [len(exp["rows"])]
    for i, c in enumerate(cols):
        present = [v for v in column_values(exp, i) if v is not None]
        want.append(len(present))
        if c["type"] == "string":
            want.append(sum(len(utf8(v)) for v in present) if present else None)
        else:
            want += [min(present), max(present)] if present else [None, None]
    assert list(got) == want

    # DuckDB's view of the footer agrees on row groups and null counts
    meta = con.execute(
        "SELECT row_group_id, column_id, stats_null_count, num_values FROM parquet_metadata(?) "
        "ORDER BY row_group_id, column_id",
        [str(path)],
    ).fetchall()
    pmd = pq.ParquetFile(path).metadata
    assert len(meta) == pmd.num_row_groups * len(cols)
    for rg_id, col_id, nulls, nvals in meta:
        cc = pmd.row_group(rg_id).column(col_id)
        assert (nulls, nvals) == (cc.statistics.null_count, cc.num_values)
