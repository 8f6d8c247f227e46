"""The C S3 client (driven through `datapipe s3 ...`) against the stack's
S3 server, which verifies SigV4 itself; every result is read back with boto3,
an independent client. Faults (throttling, 5xx, dropped connections, stalls,
refused parts) come from a small proxy in front of the real server.

Needs `scripts/stack up` (.stack/env, or the file DATAPIPE_STACK_ENV names)
and a built `build/datapipe`; set DATAPIPE_S3_CMD (e.g. "/path/to/datapipe
s3") to use another binary.
Every test works under a random key prefix and removes it afterwards.
"""
import concurrent.futures
import hashlib
import os
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

import dpcheck

MiB = 1 << 20
RUN_TIMEOUT = 180  # seconds; every subprocess is bounded


def run(stack, *args, env=None, stdin=None, timeout=RUN_TIMEOUT):
    """Run `datapipe s3 ARGS` with the stack's S3 settings (overridden by env)."""
    full = dict(os.environ)
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "S3_SSE",
              "S3_SSE_KMS_KEY_ID", "S3_PATH_STYLE"):
        full.pop(k, None)
    full.update(stack)
    full.update(env or {})
    return subprocess.run(dpcheck.s3_cli_cmd() + [str(a) for a in args], env=full, input=stdin,
                          capture_output=True, timeout=timeout)


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr.decode(errors='replace')}"
    return res


def multipart_etag(data, part_size):
    """S3's ETag of a multipart object: md5 of the parts' md5s, dash, part count."""
    parts = [data[i:i + part_size] for i in range(0, len(data), part_size)]
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def boto_get(s3, stack, key):
    return s3.get_object(Bucket=stack["S3_BUCKET"], Key=key)["Body"].read()


# ---- plain operations ------------------------------------------------------


def test_small_put_is_read_back_by_boto3(stack, s3, prefix, tmp_path):
    key = prefix + "small.txt"
    f = tmp_path / "small.txt"
    f.write_bytes(b"hello, archive\n")
    ok(run(stack, "put", key, f, "--content-type", "text/plain"))
    obj = s3.get_object(Bucket=stack["S3_BUCKET"], Key=key)
    assert obj["Body"].read() == b"hello, archive\n"
    assert obj["ContentType"] == "text/plain"
    assert "-" not in obj["ETag"]  # a single PUT, not a multipart upload


def test_empty_object_round_trips(stack, s3, prefix, tmp_path):
    f = tmp_path / "empty"
    f.write_bytes(b"")
    for mode in ([], ["--whole"]):
        key = prefix + "empty" + "".join(mode)
        ok(run(stack, "put", key, f, *mode))
        assert boto_get(s3, stack, key) == b""
        assert ok(run(stack, "head", key)).stdout == b"0\n"


@pytest.mark.parametrize("mode", ["stream", "whole"])
def test_12mib_put_with_5mib_parts_is_a_three_part_upload(stack, s3, prefix, tmp_path, mode):
    data = os.urandom(12 * MiB)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    key = prefix + f"big-{mode}.bin"
    args = ["--part-size", "5m", "put", key, f] + (["--whole"] if mode == "whole" else [])
    ok(run(stack, *args))
    head = s3.head_object(Bucket=stack["S3_BUCKET"], Key=key)
    assert head["ETag"].endswith('-3"')
    assert head["ETag"] == multipart_etag(data, 5 * MiB)
    assert head["ContentLength"] == len(data)
    assert boto_get(s3, stack, key) == data


def test_part_size_boundary_exactly_one_part_is_a_single_put(stack, s3, prefix, tmp_path):
    data = os.urandom(5 * MiB + 1)
    for n, expect_parts in ((5 * MiB, None), (5 * MiB + 1, 2)):
        f = tmp_path / f"b{n}"
        f.write_bytes(data[:n])
        for mode in ([], ["--whole"]):
            key = prefix + f"boundary-{n}{''.join(mode)}"
            ok(run(stack, "--part-size", "5m", "put", key, f, *mode))
            etag = s3.head_object(Bucket=stack["S3_BUCKET"], Key=key)["ETag"]
            if expect_parts is None:
                assert "-" not in etag, etag
            else:
                assert etag == multipart_etag(data[:n], 5 * MiB)
            assert boto_get(s3, stack, key) == data[:n]


def test_part_size_below_5mib_is_refused(stack, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    res = run(stack, "--part-size", str(5 * MiB - 1), "put", prefix + "x", f)
    assert res.returncode == 1
    assert b"part size" in res.stderr


def test_get_and_head_read_what_boto3_wrote(stack, s3, prefix, tmp_path):
    data = os.urandom(3 * MiB + 17)
    key = prefix + "from-boto3.bin"
    s3.put_object(Bucket=stack["S3_BUCKET"], Key=key, Body=data)
    out = tmp_path / "out.bin"
    ok(run(stack, "get", key, out))
    assert out.read_bytes() == data
    assert ok(run(stack, "head", key)).stdout == f"{len(data)}\n".encode()
    assert ok(run(stack, "get", key, "-")).stdout == data


def test_get_larger_than_the_bound_fails_cleanly(stack, s3, prefix, tmp_path):
    key = prefix + "bounded"
    s3.put_object(Bucket=stack["S3_BUCKET"], Key=key, Body=b"x" * 4096)
    res = run(stack, "--max-bytes", "4095", "get", key, tmp_path / "o")
    assert res.returncode == 1
    assert b"4095 byte bound" in res.stderr
    ok(run(stack, "--max-bytes", "4096", "get", key, tmp_path / "o"))
    assert (tmp_path / "o").read_bytes() == b"x" * 4096


def test_missing_key_gives_clear_errors(stack, prefix, tmp_path):
    key = prefix + "no/such/key"
    res = run(stack, "get", key, tmp_path / "o")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "NoSuchKey" in err and key in err and "http 404" in err
    assert "attempts" not in err  # a 404 is not retried
    res = run(stack, "head", key)
    assert res.returncode == 3
    assert res.stdout == b""


def test_rm_deletes_and_tolerates_missing_keys(stack, s3, prefix):
    key = prefix + "doomed"
    s3.put_object(Bucket=stack["S3_BUCKET"], Key=key, Body=b"bye")
    ok(run(stack, "rm", key))
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=stack["S3_BUCKET"], Key=key)
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")
    ok(run(stack, "rm", key))


SPECIAL_KEYS = [
    "with space/file name.txt",
    "plus+and=equals&amp",
    "unicode/日本語/ünïcödé €",
    "percent%20literal%2F",
    "symbols!*'();:@$,~[]{}",
    "hash#and?question",
    'xml"<quoted>&',
    "tab\tand.dots..",
]


def test_special_character_keys_round_trip(stack, s3, prefix, tmp_path):
    bucket = stack["S3_BUCKET"]
    for i, name in enumerate(SPECIAL_KEYS):
        key = prefix + name
        body = f"{i}:{name}".encode()
        f = tmp_path / f"k{i}"
        f.write_bytes(body)
        ok(run(stack, "put", key, f))  # ours writes, boto3 reads
        assert boto_get(s3, stack, key) == body, key
        key2 = prefix + "b/" + name  # boto3 writes, ours reads
        s3.put_object(Bucket=bucket, Key=key2, Body=body)
        assert ok(run(stack, "get", key2, "-")).stdout == body, key2
    listed = ok(run(stack, "ls", prefix)).stdout.decode().splitlines()
    got = {line.split("\t", 1)[1] for line in listed}
    expect = {prefix + n for n in SPECIAL_KEYS} | {prefix + "b/" + n for n in SPECIAL_KEYS}
    assert got == expect


def test_ls_follows_continuation_tokens_past_1000_keys(stack, s3, prefix):
    bucket = stack["S3_BUCKET"]
    keys = [f"{prefix}many/{i:05d}" for i in range(1100)]
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k[-5:].encode()), keys))
    lines = ok(run(stack, "ls", prefix + "many/")).stdout.decode().splitlines()
    assert [line.split("\t")[1] for line in lines] == keys
    assert all(line.split("\t")[0] == "5" for line in lines)
    # small pages: many round trips, same answer
    lines = ok(run(stack, "--max-keys", "97", "ls", prefix + "many/0001")).stdout.decode().splitlines()
    assert [line.split("\t")[1] for line in lines] == [k for k in keys if k.startswith(prefix + "many/0001")]
    assert ok(run(stack, "ls", prefix + "nothing-here/")).stdout == b""


# ---- authentication --------------------------------------------------------


def test_wrong_secret_is_rejected_by_the_server(stack, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    bad = "W" + stack["AWS_SECRET_ACCESS_KEY"][1:] + "x"
    for args in (["put", prefix + "x", f], ["ls", prefix], ["get", prefix + "x", "-"]):
        res = run(stack, *args, env={"AWS_SECRET_ACCESS_KEY": bad})
        assert res.returncode == 1
        err = res.stderr.decode()
        assert "SignatureDoesNotMatch" in err or "AccessDenied" in err, err
        assert "http 403" in err
        assert bad not in err and stack["AWS_SECRET_ACCESS_KEY"] not in err
        assert "attempts" not in err  # 4xx is not retried


def test_unknown_access_key_is_rejected(stack, prefix):
    res = run(stack, "ls", prefix, env={"AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY0000000"})
    assert res.returncode == 1
    # AWS says 403 InvalidAccessKeyId; versitygw 404 XAdminUserNotFound
    assert re.search(rb"http 4\d\d \w+: ", res.stderr), res.stderr
    assert b"attempts" not in res.stderr


def test_missing_credentials_fail_before_any_request(stack, prefix, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": str(tmp_path),
           "AWS_SHARED_CREDENTIALS_FILE": ""}
    res = run(stack, "ls", prefix, env=env)
    assert res.returncode == 1
    assert b"credentials" in res.stderr


def test_shared_credentials_file_profile_is_used(stack, s3, prefix, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n"
        f"[it]\naws_access_key_id = {stack['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {stack['AWS_SECRET_ACCESS_KEY']}\n"
    )
    f = tmp_path / "x"
    f.write_bytes(b"from profile")
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "it"}
    ok(run(stack, "put", prefix + "profiled", f, env=env))
    assert boto_get(s3, stack, prefix + "profiled") == b"from profile"


def test_sse_headers_are_signed_and_accepted(stack, s3, prefix, tmp_path):
    # The local server does not encrypt, but it verifies the signature over the
    # x-amz-server-side-encryption header on PUT and CreateMultipartUpload.
    data = os.urandom(6 * MiB)
    f = tmp_path / "sse"
    f.write_bytes(data)
    for mode in ([], ["--whole"]):
        key = prefix + "sse" + "".join(mode)
        ok(run(stack, "--part-size", "5m", "put", key, f, *mode, env={"S3_SSE": "AES256"}))
        assert boto_get(s3, stack, key) == data


# ---- faults, through a proxy in front of the real server -------------------


FaultProxy = dpcheck.FaultProxy


def test_slowdown_is_retried_with_backoff(stack, s3, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"survived throttling")
    rule = lambda n, m, p: ("status", 503, "SlowDown") if n < 2 else None  # noqa: E731
    with FaultProxy(stack["S3_ENDPOINT_URL"], rule) as px:
        t0 = time.monotonic()
        res = ok(run(stack, "put", prefix + "throttled", f, env={"S3_ENDPOINT_URL": px.url}))
        elapsed = time.monotonic() - t0
        assert px.count("PUT") == 3
    assert b"SlowDown" in res.stderr and b"retry 2 of 3" in res.stderr  # logged as warnings
    assert elapsed >= 0.3  # backoff of at least 100 ms + 200 ms (half of 200 + 400)
    assert boto_get(s3, stack, prefix + "throttled") == b"survived throttling"


def test_retries_stop_after_max_retries(stack, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    with FaultProxy(stack["S3_ENDPOINT_URL"], lambda n, m, p: ("status", 500, "InternalError")) as px:
        res = run(stack, "--retries", "2", "put", prefix + "never", f, env={"S3_ENDPOINT_URL": px.url})
        assert px.count() == 3
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "http 500 InternalError: injected InternalError" in err
    assert "(after 3 attempts)" in err
    assert prefix + "never" in err


def test_client_errors_are_not_retried(stack, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    with FaultProxy(stack["S3_ENDPOINT_URL"], lambda n, m, p: ("status", 400, "InvalidArgument")) as px:
        res = run(stack, "put", prefix + "bad", f, env={"S3_ENDPOINT_URL": px.url})
        assert px.count() == 1
    assert res.returncode == 1
    assert b"http 400 InvalidArgument" in res.stderr


def test_dropped_connection_is_retried(stack, s3, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"after a dropped connection")
    with FaultProxy(stack["S3_ENDPOINT_URL"], lambda n, m, p: ("drop",) if n == 0 else None) as px:
        ok(run(stack, "put", prefix + "dropped", f, env={"S3_ENDPOINT_URL": px.url}))
        assert px.count("PUT") >= 2
    assert boto_get(s3, stack, prefix + "dropped") == b"after a dropped connection"


def test_stalled_request_times_out_and_is_retried(stack, s3, prefix, tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"after a stall")
    with FaultProxy(stack["S3_ENDPOINT_URL"], lambda n, m, p: ("stall", 4) if n == 0 else None) as px:
        t0 = time.monotonic()
        res = ok(run(stack, "--timeout-ms", "1000", "put", prefix + "stalled", f,
                     env={"S3_ENDPOINT_URL": px.url}))
        elapsed = time.monotonic() - t0
        assert px.count("PUT") == 2
    assert elapsed < 4, elapsed  # did not wait for the stalled answer
    assert b"imeout" in res.stderr or b"timed out" in res.stderr
    assert boto_get(s3, stack, prefix + "stalled") == b"after a stall"


def test_refused_connection_is_retriable_and_reported(stack, prefix):
    res = run(stack, "--retries", "1", "ls", prefix, env={"S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "(after 2 attempts)" in err
    assert "onnect" in err  # "Couldn't connect to server"


def test_a_failed_part_is_retried_mid_upload(stack, s3, prefix, tmp_path):
    data = os.urandom(11 * MiB)
    f = tmp_path / "big"
    f.write_bytes(data)
    failed = []

    def rule(n, method, path):
        if method == "PUT" and "partNumber=2" in path and not failed:
            failed.append(n)
            return ("status", 500, "InternalError")
        return None

    with FaultProxy(stack["S3_ENDPOINT_URL"], rule) as px:
        ok(run(stack, "--part-size", "5m", "put", prefix + "retried-part", f,
               env={"S3_ENDPOINT_URL": px.url}))
        assert px.count("PUT", "partNumber=2") == 2
    head = s3.head_object(Bucket=stack["S3_BUCKET"], Key=prefix + "retried-part")
    assert head["ETag"] == multipart_etag(data, 5 * MiB)
    assert boto_get(s3, stack, prefix + "retried-part") == data


@pytest.mark.parametrize("mode", ["stream", "whole"])
def test_failed_multipart_upload_is_aborted(stack, s3, prefix, tmp_path, mode):
    data = os.urandom(11 * MiB)
    f = tmp_path / "big"
    f.write_bytes(data)
    key = prefix + f"aborted-{mode}"
    rule = lambda n, m, p: ("status", 403, "AccessDenied") if m == "PUT" and "partNumber=2" in p else None  # noqa: E731
    with FaultProxy(stack["S3_ENDPOINT_URL"], rule) as px:
        args = ["--part-size", "5m", "put", key, f] + (["--whole"] if mode == "whole" else [])
        res = run(stack, *args, env={"S3_ENDPOINT_URL": px.url})
        assert px.count("DELETE", "uploadId=") == 1  # AbortMultipartUpload
        assert px.count("POST", "uploadId=") == 0  # never completed
    assert res.returncode == 1
    assert b"upload part 2" in res.stderr and b"AccessDenied" in res.stderr
    uploads = s3.list_multipart_uploads(Bucket=stack["S3_BUCKET"], Prefix=key).get("Uploads", [])
    assert uploads == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket=stack["S3_BUCKET"], Key=key)
