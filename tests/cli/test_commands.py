"""The CLI contract: every creating command prints one JSON object with --json."""

from __future__ import annotations

import subprocess

import httpx

from tests.support.server import DNSGATE, cli_env, dnsgate, running


def test_cli_flow_then_api(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    user = dnsgate(env, "user", "create", "alice", "--email", "a@example.test",
                   "--password-stdin", "--json", stdin="a long enough password\n")
    assert user["name"] == "alice" and isinstance(user["id"], int)
    assert "password" not in user
    zone = dnsgate(env, "zone", "add", "example.test", "--backend", "builtin", "--public",
                   "--auto-approve", "--json")
    assert zone["zone"] == "example.test"
    realm = dnsgate(env, "realm", "add", "alice", "example.test", "home", "--kind", "host",
                    "--types", "A,AAAA", "--json")
    assert realm["fqdn"] == "home.example.test" and realm["status"] == "approved"
    token = dnsgate(env, "token", "create", str(realm["id"]), "--name", "router",
                    "--expires", "30d", "--json")
    assert token["token"].startswith(f"dg_{token['id']}_")

    with running("serve", env) as server, httpx.Client(base_url=server.base) as client:
        auth = {"Authorization": f"Bearer {token['token']}"}
        put = client.put("/api/v1/zones/example.test/rrsets/home.example.test/A",
                         json={"records": ["192.0.2.7"]}, headers=auth)
        assert put.status_code == 200, put.text
        denied = client.put("/api/v1/zones/example.test/rrsets/home.example.test/TXT",
                            json={"records": ["x"]}, headers=auth)
        assert denied.json()["code"] == "type_not_allowed"
        revoke = subprocess.run([*DNSGATE, "token", "revoke", token["id"]], env=env,
                                capture_output=True, text=True, timeout=60)
        assert revoke.returncode == 0, revoke.stderr
        after = client.get("/api/v1/whoami", headers=auth)
        assert after.status_code == 401
        assert after.json()["code"] == "token_revoked"


def test_user_create_generates_a_password(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    user = dnsgate(env, "user", "create", "bob", "--admin", "--json")
    assert user["role"] == "admin" and len(user["password"]) >= 16


def test_errors_are_one_line_on_stderr(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    dnsgate(env, "zone", "add", "example.test", "--json")
    result = subprocess.run([*DNSGATE, "zone", "add", "example.test", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: conflict: zone example.test already exists"


def test_db_upgrade_is_idempotent(tmp_path, database_url):
    env = cli_env(tmp_path / "data", database_url)
    for _ in range(2):
        result = subprocess.run([*DNSGATE, "db", "upgrade"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
