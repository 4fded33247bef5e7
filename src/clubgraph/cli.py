"""The ``clubgraph`` command: ``serve`` the graph, run the ``sandbox``, mint a ``token``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .collector import settle_for_serving
from .settings import Settings, SettingsError, read_config_file


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"clubgraph: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.require_auth:
        settings = replace(settings, require_auth=True)
        # Workers build their settings from the environment.
        os.environ["CLUBGRAPH_REQUIRE_AUTH"] = "1"
    if settings.embedded_sandbox and settings.webhook_base_url is None:
        # The embedded sandbox sends its webhooks to this server.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        host = f"[{host}]" if ":" in host else host
        settings = replace(settings, webhook_base_url=f"http://{host}:{args.port}")
    if settings.embedded_sandbox:
        print(
            "clubgraph: no CLUBGRAPH_*_URL set; starting the embedded sandbox of all four "
            "sources (development data, development credentials)",
            file=sys.stderr,
        )
    if args.workers > 1 and settings.embedded_sandbox:
        print(
            "clubgraph: several workers need shared upstreams: run `clubgraph sandbox` and "
            "set CLUBGRAPH_*_URL (each worker would start a sandbox of its own)",
            file=sys.stderr,
        )
        return 2
    print(f"clubgraph: GraphiQL at http://{args.host}:{args.port}/graphql", file=sys.stderr)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": False,
        "lifespan": "on",
        "http": "httptools",
        # On SIGTERM: requests in flight get this long to finish (subscriptions end at once).
        "timeout_graceful_shutdown": args.shutdown_timeout,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }
    if args.workers > 1:
        # Each worker builds its own app from the environment.
        uvicorn.run("clubgraph.cli:worker_app", factory=True, workers=args.workers, **options)
        return 0
    try:
        app = create_app(settings)
    except SettingsError as exc:
        print(f"clubgraph: invalid configuration: {exc}", file=sys.stderr)
        return 2
    settle_for_serving()
    uvicorn.run(app, **options)
    return 0


def worker_app() -> Any:
    """The app of one worker process of ``clubgraph serve --workers N``."""
    from .app import create_app

    app = create_app()
    settle_for_serving()
    return app


def _token(args: argparse.Namespace) -> int:
    from .identity import ClaimsError, Role, mint

    secret = args.secret or os.environ.get("CLUBGRAPH_JWT_SECRET")
    if not secret:
        print("clubgraph: no secret: set CLUBGRAPH_JWT_SECRET or pass --secret", file=sys.stderr)
        return 2
    role = Role(args.role)
    tenants = [t.strip() for t in (args.tenants or "").split(",") if t.strip()]
    if role is Role.MEMBER and tenants:
        print("clubgraph: a member token names --client, not --tenants", file=sys.stderr)
        return 2
    if role is not Role.MEMBER and args.client:
        print(f"clubgraph: a {role.value} token names --tenants, not --client", file=sys.stderr)
        return 2
    try:
        token = mint(
            secret,
            role=role,
            subject=args.sub,
            tenants=tenants,
            clients=args.client or (),
            ttl_s=args.ttl,
            issuer=args.issuer,
            audience=args.audience,
        )
    except ClaimsError as exc:
        print(f"clubgraph: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


async def _run_sandbox(args: argparse.Namespace) -> None:
    from .sandbox.runner import start_sandbox

    running = await start_sandbox(
        args.host,
        args.port_base,
        latency_ms=args.latency_ms,
        seed=args.seed,
        bench=args.bench,
        cache_responses=args.cache_responses,
        webhook_base=args.webhook_url,
    )
    for source, url in running.urls.items():
        print(f"{source:13} {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


def _webhook_base(value: str) -> str:
    from .sandbox.webhooks import BadConfig, check_url

    try:
        check_url(value)
    except BadConfig as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _sandbox(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_sandbox(args))
    return 0


async def _rebuild_clubcollect_index(settings: Settings) -> int:
    from .connectors.clubcollect import ClubCollectConnector
    from .domain import Source
    from .upstreams import build_connector

    cfg = next((s for s in settings.sources if s.source is Source.CLUBCOLLECT), None)
    if cfg is None:
        print("clubgraph: CLUBGRAPH_CLUBCOLLECT_URL is not set", file=sys.stderr)
        return 2
    # Where the server keeps it: in PostgreSQL when configured, else the SQLite file.
    index = settings.database_url or settings.clubcollect_index
    connector = build_connector(cfg, clubcollect_index=index)
    if not isinstance(connector, ClubCollectConnector):
        raise TypeError("not a ClubCollect connector")
    await connector.start()
    try:
        counts = await connector.rebuild_index()
    finally:
        await connector.close()
    where = "PostgreSQL (CLUBGRAPH_DATABASE_URL)" if settings.database_url else index
    print(f"index: {where}")
    for company, count in counts.items():
        print(f"{company:24} {count.invoices:7} invoices {count.clients:7} clients")
    return 0


def _clubcollect_index(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"clubgraph: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_rebuild_clubcollect_index(settings))


def _config(args: argparse.Namespace) -> int:
    """``clubgraph config check``: the effective settings, secrets redacted, or every
    problem with them."""
    from .settings import describe

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"clubgraph: invalid configuration: {exc}", file=sys.stderr)
        return 2
    source = os.environ.get("CLUBGRAPH_CONFIG") or "(none: the environment only)"
    print(f"{'config file':30} {source}")
    for name, value in describe(settings):
        print(f"{name:30} {value}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clubgraph", description="One GraphQL graph over club billing platforms."
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML settings file (as CLUBGRAPH_CONFIG); the environment overrides it",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the GraphQL API (GraphiQL in a browser)")
    serve.add_argument("--host", default=os.environ.get("CLUBGRAPH_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=os.environ.get("CLUBGRAPH_PORT", "8000"))
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=os.environ.get("CLUBGRAPH_WORKERS", "1"),
        help="worker processes (needs configured upstreams)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=os.environ.get("CLUBGRAPH_SHUTDOWN_TIMEOUT", "30"),
        help="seconds requests in flight may take to finish after SIGTERM (default 30)",
    )
    serve.add_argument(
        "--require-auth",
        action="store_true",
        help="refuse requests without a token, in sandbox mode too (no anonymous demo user)",
    )
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token",
        help="mint a development token (HS256, signed with CLUBGRAPH_JWT_SECRET)",
        description=(
            "Print an HS256 JWT for development, signed with the shared secret the server "
            "verifies (CLUBGRAPH_JWT_SECRET). RS256 and ES256 tokens come from your "
            "identity provider, not from here."
        ),
    )
    token.add_argument("--role", choices=["staff", "member", "service"], required=True)
    token.add_argument(
        "--tenants",
        help="staff/service: comma-separated <source>:<tenant> (<source>:* or * for all)",
    )
    token.add_argument(
        "--client",
        action="append",
        help="member: a global client ID the member is (repeatable)",
    )
    token.add_argument("--sub", default="developer", help="the subject (default: developer)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument(
        "--secret",
        help="HS256 secret, 32 bytes or more (default: CLUBGRAPH_JWT_SECRET; prefer it, "
        "a command line is visible to other users)",
    )
    token.add_argument("--issuer", default=os.environ.get("CLUBGRAPH_JWT_ISSUER") or None)
    token.add_argument("--audience", default=os.environ.get("CLUBGRAPH_JWT_AUDIENCE") or None)
    token.set_defaults(func=_token)

    sandbox = sub.add_parser("sandbox", help="serve the four sandbox upstream APIs")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port-base", type=int, default=9100)
    sandbox.add_argument(
        "--latency-ms", type=int, default=0, help="answer each request this long after it arrived"
    )
    sandbox.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    sandbox.add_argument(
        "--bench", action="store_true", help="add the benchmark data (W0's tenant 103)"
    )
    sandbox.add_argument(
        "--cache-responses",
        action="store_true",
        help="serve repeated reads from memory until the next write (benchmarks)",
    )
    sandbox.add_argument(
        "--webhook-url",
        metavar="BASE",
        type=_webhook_base,
        default=None,
        help="clubgraph's base URL: FitnessForce and ClubCollect post their webhooks to "
        "BASE/webhooks/<source>, signed with the development secrets",
    )
    sandbox.set_defaults(func=_sandbox)

    config = sub.add_parser("config", help="check the configuration")
    config.add_argument("action", choices=["check"], help="check: print the effective settings")
    config.set_defaults(func=_config)

    schema = sub.add_parser("schema", help="print the schema's SDL (what schema.graphql holds)")
    schema.add_argument(
        "--breaking-against",
        metavar="SDL_FILE",
        help="instead, list the changes from this earlier SDL that break clients",
    )
    schema.add_argument(
        "--strict", action="store_true", help="with --breaking-against: exit 1 on a breaking change"
    )
    schema.set_defaults(func=_schema)

    index = sub.add_parser("clubcollect-index", help="manage the ClubCollect invoice index")
    index.add_argument(
        "action", choices=["rebuild"], help="rebuild: crawl every company and replace the index"
    )
    index.set_defaults(func=_clubcollect_index)
    return parser


def schema_sdl() -> str:
    """The schema's SDL, as ``schema.graphql`` holds it."""
    from .schema import build_schema
    from .settings import Settings

    return build_schema(settings=Settings(mode="sandbox")).as_str() + "\n"


def _schema(args: argparse.Namespace) -> int:
    if args.breaking_against is None:
        sys.stdout.write(schema_sdl())
        return 0
    from graphql import build_schema as from_sdl
    from graphql import find_breaking_changes, find_dangerous_changes

    # Federation directives (@link, @key) are not defined in the SDL: not validated here.
    old = from_sdl(Path(args.breaking_against).read_text(), assume_valid_sdl=True)
    new = from_sdl(schema_sdl(), assume_valid_sdl=True)
    breaking = find_breaking_changes(old, new)
    for change in breaking:
        print(f"breaking: {change.type.name}: {change.description}")
    for danger in find_dangerous_changes(old, new):
        print(f"dangerous: {danger.type.name}: {danger.description}")
    if not breaking:
        print(f"no breaking change against {args.breaking_against}")
    return 1 if breaking and args.strict else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    path = early.parse_known_args(argv)[0].config or os.environ.get("CLUBGRAPH_CONFIG")
    if path:
        # Read by every Settings.from_env, workers' included; the process settings (host,
        # port, workers, shutdown timeout) come from the file too, under the environment.
        os.environ["CLUBGRAPH_CONFIG"] = path
        try:
            for name, value in read_config_file(path).items():
                os.environ.setdefault(name, value)
        except SettingsError as exc:
            print(f"clubgraph: invalid configuration: {exc}", file=sys.stderr)
            return 2
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
