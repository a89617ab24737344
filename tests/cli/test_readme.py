"""The README's promises, run for real: the demo server and the curl example."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.support.server import cli_env, running

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_curl_example() -> str:
    text = README.read_text()
    section = text.split("## First token in four requests", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "README lost its curl example"
    return match.group(1)


def test_readme_curl_example_against_demo(tmp_path, database_url):
    assert shutil.which("curl"), "curl is required (scripts/test installs it)"
    env = cli_env(tmp_path / "data", database_url)
    with running("demo", env) as server:
        script = readme_curl_example()
        script = script.replace("http://127.0.0.1:8080", server.base)
        script = script.replace("PW='the-one-time-password'",
                                f"PW='{server.one_time_password()}'")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            '{"name":"home.example.test","type":"A","ttl":300,"records":["192.0.2.10"]}')
        # The record is there for an admin too, and the demo zone has SOA + NS.
        with httpx.Client(base_url=server.base) as client:
            login = client.post("/api/v1/auth/api-keys", json={
                "username": "admin", "password": server.one_time_password()})
            key = login.json()["key"]
            rrsets = client.get("/api/v1/zones/example.test/rrsets",
                                headers={"Authorization": f"Bearer {key}"}).json()
        types = {(r["name"], r["type"]) for r in rrsets}
        assert {("example.test", "SOA"), ("example.test", "NS"),
                ("home.example.test", "A")} <= types


def test_demo_prints_the_password_once(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    with running("demo", env) as first:
        assert first.one_time_password()
    with running("demo", env) as second:
        assert "one-time admin password" not in second.banner
