"""The ``dnsgate`` command. Every command that creates something takes ``--json``
and then prints exactly one JSON object on stdout (external checks rely on it)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer

from dnsgate import workers
from dnsgate.config import Settings
from dnsgate.domain.errors import DnsgateError
from dnsgate.services import accounts, backends, realms, secondaries, setup, tokens, zones
from dnsgate.services.context import SYSTEM_CALLER, SYSTEM_CONTEXT, Env

app = typer.Typer(help="dnsgate: scoped credentials in front of every DNS provider.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
zone_app = typer.Typer(help="Zones offered to accounts.", no_args_is_help=True)
realm_app = typer.Typer(help="Realms (claims on part of a zone).", no_args_is_help=True)
token_app = typer.Typer(help="Realm tokens.", no_args_is_help=True)
backend_app = typer.Typer(help="Provider connections (backends).", no_args_is_help=True)
for sub, name in ((db_app, "db"), (user_app, "user"), (zone_app, "zone"),
                  (realm_app, "realm"), (token_app, "token"), (backend_app, "backend")):
    app.add_typer(sub, name=name)

T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``15m``, ``3600s``, ``2w``."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise typer.BadParameter("use a number and a unit: 30d, 12h, 15m, 3600s, 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _env() -> Env:
    from dnsgate.app import build_env
    from dnsgate.db import migrate

    env = build_env(Settings())
    migrate.upgrade(env.db)
    setup.ensure_builtin_backend(env)
    return env


def _emit(as_json: bool, obj: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        typer.echo(text)


def _run(fn: Any) -> Any:
    """Turn domain errors into one clear line on stderr and exit code 1."""
    try:
        return fn()
    except DnsgateError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _run_async(env: Env, make: Callable[[], Awaitable[T]]) -> T:
    """Run one service coroutine, then close the provider connections it opened."""
    async def body() -> T:
        try:
            return await make()
        finally:
            await env.backends.aclose()
    result: T = _run(lambda: asyncio.run(body()))
    return result


HostOpt = Annotated[str | None, typer.Option(help="HTTP listen address (DNSGATE_HTTP_HOST).")]
PortOpt = Annotated[int | None, typer.Option(help="HTTP listen port (DNSGATE_HTTP_PORT).")]
DnsHostOpt = Annotated[str | None, typer.Option(
    "--dns-host", help="DNS listen address (DNSGATE_DNS_HOST).")]
DnsPortOpt = Annotated[int | None, typer.Option(
    "--dns-port", help="DNS listen port, UDP and TCP; 0 disables (DNSGATE_DNS_PORT).")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, max=64,
    help="HTTP worker processes, one per core is the rule (DNSGATE_WORKERS).")]


def _settings(dns_host: str | None, dns_port: int | None,
              workers: int | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if workers is not None:
        overrides["workers"] = workers
    if dns_host is not None:
        overrides["dns_host"] = dns_host
    if dns_port is not None:
        overrides["dns_port"] = dns_port
    return Settings(**overrides)


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, dns_host: DnsHostOpt = None,
          dns_port: DnsPortOpt = None, workers: WorkersOpt = None) -> None:
    """Serve the REST API and the DNS server (migrates the database first)."""
    _serve(_settings(dns_host, dns_port, workers), host, port, demo=False)


@app.command()
def demo(host: HostOpt = None, port: PortOpt = None, dns_host: DnsHostOpt = None,
         dns_port: DnsPortOpt = None, workers: WorkersOpt = None) -> None:
    """The embedded default: SQLite, built-in backend, zone example.test, an admin."""
    _serve(_settings(dns_host, dns_port, workers), host, port, demo=True)


def _serve(settings: Settings, host: str | None, port: int | None, *, demo: bool) -> None:
    import uvicorn

    from dnsgate.app import build_env, create_app
    from dnsgate.db import migrate

    _configure_logging(settings)
    env = build_env(settings)
    migrate.upgrade(env.db)
    setup.ensure_builtin_backend(env)
    bind_host = host or settings.http_host
    bind_port = port if port is not None else settings.http_port
    if demo:
        state = asyncio.run(setup.ensure_demo(env))
        base = f"http://{bind_host}:{bind_port}"
        typer.echo(f"dnsgate demo: data in {settings.data_dir.resolve()}")
        typer.echo(f"  zone {setup.DEMO_ZONE} on the built-in backend (public, auto-approve)")
        if state.admin_password:
            typer.echo(f"  admin account: {state.admin_name}")
            typer.echo(f"  one-time admin password: {state.admin_password}")
        else:
            typer.echo(f"  admin account: {state.admin_name} (password shown on first start)")
        typer.echo(f"  REST API: {base}/api/v1   docs: {base}/api/docs")
        if settings.dns_port:
            typer.echo(f"  DNS: {settings.dns_host} port {settings.dns_port} (UDP and TCP)")
    if settings.workers == 1:
        app_ = create_app(settings, env=env, migrate_on_start=False, own_process=True)
        uvicorn.run(app_, host=bind_host, port=bind_port, **_uvicorn_options(settings))
        return
    env.db.dispose()  # the workers open their own connections after fork
    socks = workers.listening_sockets(bind_host, bind_port, settings.workers)

    def run_worker(role: workers.WorkerRole, listening: socket.socket) -> None:
        worker_env = build_env(settings, worker=role)
        app_ = create_app(settings, env=worker_env, migrate_on_start=False, own_process=True,
                          worker=role)
        config = uvicorn.Config(app_, **_uvicorn_options(settings))
        uvicorn.Server(config).run(sockets=[listening])

    raise typer.Exit(workers.supervise(socks, settings.data_dir / "locks", run_worker))


def _configure_logging(settings: Settings) -> None:
    """Every logger's lines, uvicorn's too, as text or JSON with the request id
    (observability/logs.py); the forked workers inherit it."""
    from dnsgate.observability import logs

    logs.configure(level=settings.log_level, log_format=settings.log_format,
                   access_log=settings.access_log)


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The stdlib event loop, not uvloop: at 64 busy keep-alive clients uvloop
    served some connections a second late (PUT p99 ~1 s against ~80 ms) for
    no more throughput; see bench/README.md. No uvicorn access log: dyndns-style
    clients put credentials in query strings (``DNSGATE_ACCESS_LOG`` writes
    paths only). No log config of uvicorn's own: its lines go to the handler
    of ``_configure_logging``."""
    return {"log_level": settings.log_level, "loop": "asyncio", "access_log": False,
            "log_config": None, "proxy_headers": False, "server_header": False}


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    _env()
    typer.echo("database is up to date")


@user_app.command("create")
def user_create(
    name: str,
    email: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an account (a one-time password is generated unless --password-stdin)."""
    env = _env()
    generated = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = generated = accounts.generate_password()
    account = _run(lambda: accounts.create_account(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name=name, email=email, admin=admin,
        password=password))
    obj: dict[str, Any] = {"id": account.id, "name": account.name, "role": account.role}
    if generated:
        obj["password"] = generated
    _emit(as_json, obj, f"created account {account.name} (id {account.id})"
          + (f", one-time password: {generated}" if generated else ""))


@zone_app.command("add")
def zone_add(
    zone: str,
    backend: Annotated[str, typer.Option(help="Backend name.")] = "builtin",
    public: Annotated[bool, typer.Option("--public/--private",
                                         help="Visible to every account?")] = False,
    auto_approve: Annotated[bool, typer.Option("--auto-approve",
                                               help="Approve realm requests at once.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Offer a zone of a backend to accounts."""
    env = _env()
    policy = zones.PolicyUpdate(visibility="public" if public else "private",
                                approval="auto" if auto_approve else "admin")
    info = _run_async(env, lambda: zones.add_zone(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone, backend=backend, policy=policy))
    _emit(as_json, {"id": info.id, "zone": info.name, "backend": info.backend_name},
          f"added zone {info.name} on backend {info.backend_name} (id {info.id})")


@zone_app.command("set")
def zone_set(
    zone: str,
    notify: Annotated[list[str] | None, typer.Option(
        "--notify", help="Secondary to NOTIFY, ADDRESS[:PORT]; repeat for more.")] = None,
    allow_transfer: Annotated[list[str] | None, typer.Option(
        "--allow-transfer", help="Network allowed to AXFR; repeat for more.")] = None,
    tsig: Annotated[list[str] | None, typer.Option(
        "--tsig", help="TSIG key NAME:ALGORITHM:BASE64SECRET allowed to AXFR.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set a built-in zone's secondaries (each given list replaces the old one)."""
    env = _env()
    settings = _run(lambda: secondaries.set_transfer(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone, notify=notify,
        allow_transfer=allow_transfer, tsig=tsig))
    public = settings.public()
    _emit(as_json, public, json.dumps(public, indent=2))


@realm_app.command("add")
def realm_add(
    user: str,
    zone: str,
    name: str,
    kind: Annotated[str, typer.Option(help="host, subtree or below.")] = "host",
    types: Annotated[str | None, typer.Option(help="Comma-separated, e.g. A,AAAA.")] = None,
    ops: Annotated[str | None, typer.Option(help="Comma-separated: read,create,update,delete."
                                            )] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give an account a realm (approved, since an admin creates it)."""
    env = _env()

    def create() -> Any:
        with env.db.read() as session:
            account = accounts.find_account(session, user)
        return realms.request_realm(
            env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, zone=zone, name=name, kind=kind,
            types=_csv(types), operations=_csv(ops), account_id=account.id)

    realm = _run(create)
    _emit(as_json, {"id": realm.id, "fqdn": realm.name, "kind": realm.kind,
                    "status": realm.status, "types": realm.types, "operations": realm.ops},
          f"realm {realm.id}: {realm.kind} {realm.name} ({realm.status})")


@token_app.command("create")
def token_create(
    realm_id: int,
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
    types: Annotated[str | None, typer.Option(help="Narrow to these types.")] = None,
    ops: Annotated[str | None, typer.Option(help="Narrow to these operations.")] = None,
    names: Annotated[str | None, typer.Option(help="Narrow to these names.")] = None,
    cidr: Annotated[str | None, typer.Option(help="Source networks, comma-separated.")] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime such as 30d or 12h.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Mint a token for a realm; the secret is printed once."""
    env = _env()
    lifetime = parse_duration(expires) if expires else None
    row, text = _run(lambda: tokens.create_token(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, realm_id=realm_id, name=name,
        names_=_csv(names), types=_csv(types), operations=_csv(ops), cidrs=_csv(cidr),
        expires_at=env.clock() + lifetime if lifetime else None))
    _emit(as_json, {"id": row.id, "token": text, "realm_id": row.realm_id,
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None},
          f"token {row.id}: {text}\n(shown once; store it now)")


@token_app.command("revoke")
def token_revoke(token_id: str, as_json: JsonFlag = False) -> None:
    """Revoke a token; its next request gets 401."""
    env = _env()
    row = _run(lambda: tokens.revoke_token(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                           token_id=token_id))
    _emit(as_json, {"id": row.id, "revoked": True}, f"revoked token {row.id}")


def _backend_json(view: backends.BackendView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "provider": view.provider, "status": view.status,
            "config": view.config, "health_status": view.health_status,
            "health_message": view.health_message,
            "health_checked_at": (view.health_checked_at.isoformat()
                                  if view.health_checked_at else None)}


def _config_json(text: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--config-json is not JSON: {exc.msg}") from None
    if not isinstance(config, dict):
        raise typer.BadParameter("--config-json must be a JSON object")
    return config


ConfigOpt = Annotated[str | None, typer.Option(
    "--config-json", help="Provider configuration as a JSON object (see GET /admin/providers).")]


@backend_app.command("add")
def backend_add(
    name: str,
    provider: Annotated[str, typer.Option(help="Provider: powerdns, rfc2136, netcup, ...")],
    config_json: ConfigOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Save a provider connection (validated; secrets sealed at rest)."""
    config = _config_json(config_json or "{}")
    env = _env()
    view = _run(lambda: backends.add_backend(env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER,
                                            name=name, provider=provider, config=config))
    _emit(as_json, _backend_json(view),
          f"added backend {view.name} ({view.provider}, id {view.id}); "
          f"test it with: dnsgate backend check {view.name}")


@backend_app.command("set")
def backend_set(
    name: str,
    config_json: ConfigOpt = None,
    status: Annotated[str | None, typer.Option(help="active or disabled.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a backend's configuration (given fields only) or status."""
    config = _config_json(config_json) if config_json is not None else None
    env = _env()
    view = _run_async(env, lambda: backends.update_backend(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name=name, config=config, status=status))
    _emit(as_json, _backend_json(view), f"backend {view.name}: {view.status}")


@backend_app.command("check")
def backend_check(name: str, as_json: JsonFlag = False) -> None:
    """Test a backend's credentials now; exit code 1 when the check fails."""
    env = _env()
    view = _run_async(env, lambda: backends.check_backend(
        env, SYSTEM_CONTEXT, caller=SYSTEM_CALLER, name=name))
    _emit(as_json, {**_backend_json(view), "ok": view.health_status == "ok"},
          f"backend {view.name}: {view.health_status}: {view.health_message}")
    if view.health_status != "ok":
        raise typer.Exit(1)


@backend_app.command("list")
def backend_list(as_json: JsonFlag = False) -> None:
    """Every backend with its provider, status and last check."""
    views = backends.list_backends(_env())
    if as_json:
        sys.stdout.write(json.dumps({"backends": [_backend_json(v) for v in views]}) + "\n")
        return
    for view in views:
        typer.echo(f"{view.name}\t{view.provider}\t{view.status}\t{view.health_status}")


@backend_app.command("zones")
def backend_zones(name: str, as_json: JsonFlag = False) -> None:
    """Zones the backend's credentials reach."""
    env = _env()
    found = _run_async(env, lambda: backends.backend_zones(env, name))
    _emit(as_json, {"backend": name, "zones": found}, "\n".join(found))


def main() -> None:
    app()
