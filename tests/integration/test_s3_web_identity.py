"""Web identity credentials (EKS IRSA) end to end, through `datapipe s3`.

There is no real STS here, so a small HTTP server on 127.0.0.1 plays it
(AWS_ENDPOINT_URL_STS points there): it checks the AssumeRoleWithWebIdentity
request (unsigned POST, Action, Version, RoleArn, RoleSessionName, the token
from AWS_WEB_IDENTITY_TOKEN_FILE) and answers with the stack's real S3 keys
plus a made-up session token. The S3 request that follows goes through a
recording proxy to the real S3 server, which verifies SigV4: success there
proves the keys from STS were used, and the proxy shows that the session
token was sent as x-amz-security-token and covered by the signature (the
local server accepts a token it does not know, as long as it is signed).

Needs `scripts/stack up` (.stack/env) and a built datapipe: DATAPIPE_S3_CMD,
else $DP_BUILD_DIR/datapipe, else build/datapipe.
"""
import http.client
import http.server
import os
import re
import subprocess
import threading
import urllib.parse
import uuid

import pytest

import dpcheck

RUN_TIMEOUT = 120
ROLE = "arn:aws:iam::123456789012:role/datapipe-archive"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionToken/+=" + uuid.uuid4().hex
EXPIRATION = "2031-02-03T04:05:06Z"


class Server(dpcheck.LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 calling handle(request_handler, body)."""

    def __init__(self, handle):
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                handle(self, body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = any

        super().__init__(Handler)


def reply(h, status, body, ctype="text/xml"):
    data = body.encode()
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(data)


class FakeSts(Server):
    """Answers AssumeRoleWithWebIdentity. answers: a list of (status, code)
    consumed one per request, (200, None) once it is empty."""

    def __init__(self, stack, answers=()):
        self.requests = []
        self.answers = list(answers)
        self.stack = stack
        super().__init__(self.handle)

    def handle(self, h, body):
        with self.lock:
            self.requests.append({"method": h.command, "path": h.path,
                                  "headers": {k.lower(): v for k, v in h.headers.items()},
                                  "form": urllib.parse.parse_qs(body.decode(), keep_blank_values=True)})
            status, code = self.answers.pop(0) if self.answers else (200, None)
        if status != 200:
            reply(h, status,
                  '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                  f"<Type>Sender</Type><Code>{code}</Code><Message>Not authorized to perform "
                  "sts:AssumeRoleWithWebIdentity</Message></Error>"
                  "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>")
            return
        secret = self.stack["AWS_SECRET_ACCESS_KEY"].replace("&", "&amp;").replace("<", "&lt;")
        reply(h, 200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:cdc:archive</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/datapipe-archive/s</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:s</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{SESSION_TOKEN}</SessionToken>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <Expiration>{EXPIRATION}</Expiration>
      <AccessKeyId>{self.stack["AWS_ACCESS_KEY_ID"]}</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
""")


class RecordingProxy(Server):
    """Forwards everything to the real S3 server and keeps each request's
    method, path and headers."""

    def __init__(self, target):
        self.requests = []
        self.target = target
        super().__init__(self.handle)

    def handle(self, h, body):
        with self.lock:
            self.requests.append((h.command, h.path, {k.lower(): v for k, v in h.headers.items()}))
        dpcheck.forward(h, self.target, body)


@pytest.fixture
def token_file(tmp_path):
    # what the kubelet projects: a JWT, here with a trailing newline
    tok = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ." + uuid.uuid4().hex + ".c2lnbmF0dXJl"
    f = tmp_path / "token"
    f.write_text(tok + "\n")
    return f, tok


def web_identity_env(stack, tmp_path, sts_url, token_path, **extra):
    """The environment of a pod with IRSA: no keys, role + token file; HOME
    holds shared credentials with wrong keys, which must not be used."""
    (tmp_path / ".aws").mkdir(exist_ok=True)
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = WRONGFILEKEY\naws_secret_access_key = wrongfilesecret\n")
    env = dict(os.environ)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
              "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ROLE_SESSION_NAME",
              "S3_SSE", "S3_SSE_KMS_KEY_ID", "S3_PATH_STYLE"):
        env.pop(k, None)
    env.update({"S3_ENDPOINT_URL": stack["S3_ENDPOINT_URL"], "S3_BUCKET": stack["S3_BUCKET"],
                "AWS_CA_BUNDLE": stack["AWS_CA_BUNDLE"],
                "AWS_REGION": stack.get("AWS_REGION", "us-east-1"), "HOME": str(tmp_path),
                "AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_path),
                "AWS_ENDPOINT_URL_STS": sts_url})
    env.update(extra)
    return env


def run(env, *args):
    return subprocess.run(dpcheck.s3_cli_cmd() + [str(a) for a in args], env=env, capture_output=True,
                          timeout=RUN_TIMEOUT)


def test_web_identity_credentials_sign_real_s3_requests(stack, s3, prefix, tmp_path, token_file):
    path, tok = token_file
    src = tmp_path / "obj"
    src.write_bytes(b"written with web identity credentials\n")
    with FakeSts(stack) as sts, RecordingProxy(stack["S3_ENDPOINT_URL"]) as px:
        env = web_identity_env(stack, tmp_path, sts.url, path, S3_ENDPOINT_URL=px.url,
                               AWS_ROLE_SESSION_NAME="it-archive-0")
        put = run(env, "put", prefix + "wi.txt", src)
        assert put.returncode == 0, put.stderr.decode(errors="replace")
        ls = run(env, "ls", prefix)
        assert ls.returncode == 0, ls.stderr.decode(errors="replace")

        # one STS call per process, unsigned, with the token from the file
        assert len(sts.requests) == 2
        for r in sts.requests:
            assert r["method"] == "POST" and r["path"] == "/"
            assert r["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
            assert "authorization" not in r["headers"]
            assert "x-amz-security-token" not in r["headers"]
            assert r["form"] == {"Action": ["AssumeRoleWithWebIdentity"], "Version": ["2011-06-15"],
                                 "RoleArn": [ROLE], "RoleSessionName": ["it-archive-0"],
                                 "WebIdentityToken": [tok]}
        # every S3 request carried the session token, inside the signature
        assert px.requests
        for method, p, headers in px.requests:
            assert headers.get("x-amz-security-token") == SESSION_TOKEN, (method, p)
            signed = re.search(r"SignedHeaders=([^,]+)", headers["authorization"]).group(1).split(";")
            assert "x-amz-security-token" in signed
            assert f"Credential={stack['AWS_ACCESS_KEY_ID']}/" in headers["authorization"]

    assert s3.get_object(Bucket=stack["S3_BUCKET"], Key=prefix + "wi.txt")["Body"].read() == src.read_bytes()
    assert ls.stdout.decode().splitlines() == [f"{src.stat().st_size}\t{prefix}wi.txt"]
    err = put.stderr.decode()
    assert "credentials from web identity" in err and ROLE in err and "until 2031-02-03T04:05:06Z" in err
    for out in (put.stderr, ls.stderr, ls.stdout):
        assert tok.encode() not in out
        assert SESSION_TOKEN.encode() not in out
        assert stack["AWS_SECRET_ACCESS_KEY"].encode() not in out


def test_default_session_name(stack, prefix, tmp_path, token_file):
    path, _ = token_file
    with FakeSts(stack) as sts:
        res = run(web_identity_env(stack, tmp_path, sts.url, path), "ls", prefix)
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        assert re.fullmatch(r"datapipe-\d{10}", sts.requests[0]["form"]["RoleSessionName"][0])


def test_sts_refusal_names_the_role_not_the_token(stack, prefix, tmp_path, token_file):
    path, tok = token_file
    with FakeSts(stack, [(403, "AccessDenied")]) as sts, \
            RecordingProxy(stack["S3_ENDPOINT_URL"]) as px:
        env = web_identity_env(stack, tmp_path, sts.url, path, S3_ENDPOINT_URL=px.url)
        res = run(env, "ls", prefix)
        assert len(sts.requests) == 1  # a refusal is not retried
        assert px.requests == []  # and S3 is never called
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f'role "{ROLE}"' in err
    assert "http 403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity" in err
    assert sts.url in err
    assert tok not in err and "eyJ" not in err
    assert "WRONGFILEKEY" not in err  # no silent fallback to the shared file


def test_sts_throttling_is_retried(stack, prefix, tmp_path, token_file):
    path, _ = token_file
    with FakeSts(stack, [(400, "Throttling"), (503, "ServiceUnavailable")]) as sts:
        res = run(web_identity_env(stack, tmp_path, sts.url, path), "ls", prefix)
        assert len(sts.requests) == 3
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert b"Throttling" in res.stderr and b"retry 1 of 2" in res.stderr


def test_unreachable_sts_is_reported_after_retries(stack, prefix, tmp_path, token_file):
    path, _ = token_file
    res = run(web_identity_env(stack, tmp_path, "http://127.0.0.1:9", path), "ls", prefix)
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "(after 3 attempts)" in err and ROLE in err and "127.0.0.1:9" in err


@pytest.mark.parametrize("kind", ["missing", "directory", "empty"])
def test_unusable_token_file_is_named(stack, prefix, tmp_path, kind):
    path = {"missing": tmp_path / "no-such-token", "directory": tmp_path,
            "empty": tmp_path / "empty-token"}[kind]
    if kind == "empty":
        path.write_text("\n")
    with FakeSts(stack) as sts:
        res = run(web_identity_env(stack, tmp_path, sts.url, path), "ls", prefix)
        assert sts.requests == []
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f'"{path}"' in err and "web identity token file" in err
    if kind == "missing":
        assert "No such file or directory" in err


def test_role_without_token_file_is_an_error(stack, prefix, tmp_path, token_file):
    path, _ = token_file
    env = web_identity_env(stack, tmp_path, "http://127.0.0.1:9", path)
    del env["AWS_WEB_IDENTITY_TOKEN_FILE"]
    res = run(env, "ls", prefix)
    assert res.returncode == 1
    assert b"AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not" in res.stderr


def test_environment_keys_win_over_web_identity(stack, prefix, tmp_path, token_file):
    path, _ = token_file
    with FakeSts(stack, [(403, "AccessDenied")]) as sts:
        env = web_identity_env(stack, tmp_path, sts.url, path,
                               AWS_ACCESS_KEY_ID=stack["AWS_ACCESS_KEY_ID"],
                               AWS_SECRET_ACCESS_KEY=stack["AWS_SECRET_ACCESS_KEY"])
        res = run(env, "ls", prefix)
        assert sts.requests == []
    assert res.returncode == 0, res.stderr.decode(errors="replace")
