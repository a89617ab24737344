"""Run ``moto_server`` (Route 53 and IAM) as a real process on a free loopback port.

IAM authentication is enforced: the server starts open, an IAM user allowed
``route53:*`` is created with a real access key, and only then is
authentication switched on (``/moto-api/reset-auth``), so a wrong key or
secret fails like it does on AWS (InvalidClientTokenId / SignatureDoesNotMatch).

moto 5 checks the SigV4 signature of a body-less request (every Route 53 GET)
against a payload made of the request's headers, so a correctly signed GET
always fails. The server therefore runs moto's own ``moto_server`` entry point
(``moto.server.main``) behind a one-line fix that makes the check hash the
request body that was actually signed (empty for a GET).

Every request the server receives is appended to ``requests.jsonl`` by moto's
recorder, so tests can count what really went upstream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from botocore.config import Config

from tests.support.server import free_port, stop

#: Marks the harness's own requests in the recording (User-Agent).
HARNESS_AGENT = "dnsgate-test-harness"

_BOOTSTRAP = """
import sys
from moto.iam import access_control

_create = access_control.IAMRequestBase._create_aws_request

def _signed_body(self):
    request = _create(self)
    request.data = self._body or b""
    return request

access_control.IAMRequestBase._create_aws_request = _signed_body
from moto.server import main
sys.exit(main(sys.argv[1:]))
"""

_ROUTE53_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "route53:*", "Resource": "*"}]}


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    recording: Path
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    def client(self, service: str = "route53", *, access_key_id: str | None = None,
               secret_access_key: str | None = None) -> Any:
        """A boto3 client straight to the server (no proxy), marked as the harness's."""
        session = boto3.session.Session(
            aws_access_key_id=access_key_id or self.access_key_id or "testing",
            aws_secret_access_key=secret_access_key or self.secret_access_key or "testing",
            region_name="us-east-1")
        return session.client(service, endpoint_url=self.url, config=Config(
            user_agent_extra=HARNESS_AGENT, retries={"total_max_attempts": 1}))

    def requests(self) -> list[dict[str, Any]]:
        """Every request the server received so far, oldest first."""
        if not self.recording.exists():
            return []
        with self.recording.open() as file:
            return [json.loads(line) for line in file if line.strip()]

    def stop(self) -> None:
        stop(self.process)


def operation(entry: dict[str, Any]) -> str:
    """The Route 53 operation of a recorded request (``METHOD /path`` if unknown)."""
    method = entry["method"]
    path = urlsplit(entry["url"]).path.rstrip("/")
    parts = path.split("/")[2:]  # after /2013-04-01
    if parts == ["hostedzonesbyname"]:
        return "ListHostedZonesByName"
    if parts == ["hostedzonecount"]:
        return "GetHostedZoneCount"
    if parts == ["hostedzone"]:
        return "CreateHostedZone" if method == "POST" else "ListHostedZones"
    if len(parts) == 3 and parts[0] == "hostedzone" and parts[2] == "rrset":
        return "ChangeResourceRecordSets" if method == "POST" else "ListResourceRecordSets"
    return f"{method} {path}"


def from_harness(entry: dict[str, Any]) -> bool:
    return HARNESS_AGENT in entry["headers"].get("User-Agent", "")


def start_moto(workdir: Path, timeout: float = 60.0) -> MotoServer:
    """Start the server, create the IAM user, then switch authentication on."""
    workdir.mkdir(parents=True, exist_ok=True)
    recording = workdir / "requests.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(MOTO_ENABLE_RECORDING="true", MOTO_RECORDER_FILEPATH=str(recording))
    for _ in range(3):  # another process may take the free port before moto binds it
        port = free_port()
        with (workdir / "moto.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, "-H", "127.0.0.1", "-p", str(port)],
                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = MotoServer(f"http://127.0.0.1:{port}", process, recording)
        if _wait_until_up(server, timeout):
            break
        stop(process)
    else:
        log_text = (workdir / "moto.log").read_text(errors="replace")
        raise AssertionError(f"moto_server did not start:\n{log_text[-3000:]}")
    try:
        _enforce_iam(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_up(server: MotoServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{server.url}/moto-api/", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _enforce_iam(server: MotoServer) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="dnsgate")
    iam.put_user_policy(UserName="dnsgate", PolicyName="route53",
                        PolicyDocument=json.dumps(_ROUTE53_POLICY))
    key = iam.create_access_key(UserName="dnsgate")["AccessKey"]
    server.access_key_id = key["AccessKeyId"]
    server.secret_access_key = key["SecretAccessKey"]
    response = httpx.post(f"{server.url}/moto-api/reset-auth", content=b"0", timeout=10)
    assert response.status_code == 200, response.text
    # Authentication is on: the harness's key works, an unknown one does not.
    assert server.client().get_hosted_zone_count()["HostedZoneCount"] == 0
