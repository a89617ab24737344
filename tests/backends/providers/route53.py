"""Route 53 on moto_server (real process, IAM authentication enforced).

The adapter reaches moto through a FaultProxy (``config()``) and, for fault
tests, through a second one that is switched to the failing mode; the
harness itself talks to moto directly with boto3, never through dnsgate.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dnsgate.domain.records import canonical_rdata
from tests.backends.harness import FAULT_TIMEOUT, Fault
from tests.support.faultproxy import FaultProxy
from tests.support.moto import MotoServer, start_moto

_OCTAL = re.compile(r"\\([0-7]{3}|.)", re.DOTALL)


class Route53Harness:
    provider = "route53"

    def __init__(self, workdir: Path) -> None:
        self.moto: MotoServer = start_moto(workdir / "moto")
        port = urlsplit(self.moto.url).port
        assert port is not None
        self.proxy = FaultProxy("127.0.0.1", port)
        self.fault_proxy = FaultProxy("127.0.0.1", port)
        self.route53 = self.moto.client()
        self.zone_ids: dict[str, str] = {}
        self._serial = itertools.count(1)
        self._run = secrets.token_hex(3)

    def config(self) -> dict[str, Any]:
        return {"access_key_id": self.moto.access_key_id,
                "secret_access_key": self.moto.secret_access_key,
                "endpoint_url": self.proxy.url, "timeout": 10}

    def bad_credentials(self) -> dict[str, Any]:
        # The real key id with a wrong secret: moto answers SignatureDoesNotMatch.
        return {**self.config(), "secret_access_key": "wrong" + secrets.token_urlsafe(30)}

    def new_zone(self, *, private: bool = False, name: str | None = None) -> str:
        zone = name or f"z{next(self._serial)}-r53{self._run}.example"
        params: dict[str, Any] = {"Name": zone, "CallerReference": secrets.token_hex(8)}
        if private:
            params["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "private"}
            params["VPC"] = {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"}
        created = self.route53.create_hosted_zone(**params)["HostedZone"]
        zone_id = created["Id"].removeprefix("/hostedzone/")
        self.zone_ids.setdefault(zone, zone_id)
        return zone

    @contextlib.contextmanager
    def fault(self, mode: Fault) -> Iterator[dict[str, Any]]:
        config = {**self.config(), "endpoint_url": self.fault_proxy.url,
                  "timeout": FAULT_TIMEOUT}
        with self.fault_proxy.fault(mode):
            yield config

    def record_sets(self, zone: str, name: str, rtype: str) -> list[dict[str, Any]]:
        """Route 53's own record sets at (name, rtype), including alias and
        routing-policy ones."""
        answer = self.route53.list_resource_record_sets(
            HostedZoneId=self.zone_ids[zone], StartRecordName=name + ".",
            StartRecordType=rtype, MaxItems="100")
        return [item for item in answer["ResourceRecordSets"]
                if _owner(item["Name"]) == name and item["Type"] == rtype]

    def lookup(self, zone: str, name: str, rtype: str) -> list[str]:
        out = []
        for item in self.record_sets(zone, name, rtype):
            if "SetIdentifier" in item or "AliasTarget" in item:
                continue
            for record in item.get("ResourceRecords", []):
                # Route 53 escapes bytes in octal, dnspython in decimal.
                value = _OCTAL.sub(lambda m: f"\\{int(m[1], 8):03d}" if len(m[1]) == 3
                                   else m[0], record["Value"])
                out.append(canonical_rdata(rtype, value))
        return sorted(out)

    def stop(self) -> None:
        try:
            self.proxy.stop()
            self.fault_proxy.stop()
        finally:
            self.moto.stop()


def _owner(route53_name: str) -> str:
    return route53_name.replace("\\052", "*").rstrip(".").lower()


def start(workdir: Path) -> Route53Harness:
    return Route53Harness(workdir)
