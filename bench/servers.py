"""The servers under test: clubgraph, and each peer folder's ``peer.json`` (README.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clubgraph.connectors.clubcollect import DEV_CREDENTIALS as CLUBCOLLECT_DEV
from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS as FITNESSFORCE_DEV
from clubgraph.connectors.tight import DEV_CREDENTIALS as TIGHT_DEV
from clubgraph.connectors.timetap import DEV_CREDENTIALS as TIMETAP_DEV

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / "peers"
ALL_WORKLOADS = ("W0", "W1", "W2", "W3", "W4")
SOURCES = ("fitnessforce", "timetap", "clubcollect", "tight")


@dataclass
class ServerDef:
    """How to start one server under test and what it runs."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    port_env: str | None = None
    graphql_path: str = "/graphql"
    ready_timeout_s: float = 90.0
    workloads: tuple[str, ...] = ALL_WORKLOADS
    # Per workload: {"document": file, "steps": [...], "variables": {...}} (README.md).
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock_file: Path | None = None
    # clubgraph itself (its canonical documents, variables found through it).
    is_clubgraph: bool = False

    def argv(self, port: int) -> list[str]:
        return [part.replace("{port}", str(port)) for part in self.command]


def _clubgraph_command() -> list[str]:
    script = Path(sys.executable).parent / "clubgraph"
    if script.exists():
        return [str(script)]
    found = shutil.which("clubgraph")
    return [found] if found else [sys.executable, "-m", "clubgraph.cli"]


# ``clubgraph-2w``: clubgraph with ``--workers 2`` (any count: ``clubgraph-<n>w``).
_WORKERS = re.compile(r"clubgraph-(\d+)w")


def clubgraph_server(workers: int = 1) -> ServerDef:
    return ServerDef(
        name="clubgraph" if workers == 1 else f"clubgraph-{workers}w",
        command=[
            *_clubgraph_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        cwd=REPO,
        is_clubgraph=True,
        env={
            "CLUBGRAPH_MAX_PAGE_SIZE": "500",
            # The sandbox's upstreams, and the anonymous demo user the peers also get.
            "CLUBGRAPH_MODE": "sandbox",
            # Nothing of a run outlives it.
            "CLUBGRAPH_CLUBCOLLECT_INDEX": ":memory:",
            "CLUBGRAPH_STATE_DB": ":memory:",
            # No polling for changes: a workload's upstream requests are all it makes.
            "CLUBGRAPH_POLL_INTERVAL": "0",
        },
    )


def sandbox_env(urls: dict[str, str]) -> dict[str, str]:
    """What every server is told about the sandbox: URLs and development credentials."""
    first, second = TIMETAP_DEV.keys
    return {
        **{f"SANDBOX_{s.upper()}_URL": url for s, url in urls.items()},
        # The clubgraph variables, for clubgraph (which warns about dev credentials).
        **{f"CLUBGRAPH_{s.upper()}_URL": url for s, url in urls.items()},
        "SANDBOX_FITNESSFORCE_USERNAME": FITNESSFORCE_DEV.username,
        "SANDBOX_FITNESSFORCE_PASSWORD": FITNESSFORCE_DEV.password,
        "SANDBOX_TIMETAP_API_KEYS": ",".join(
            f"{k.api_key}:{k.private_key}" for k in (first, second)
        ),
        "SANDBOX_CLUBCOLLECT_API_KEY": CLUBCOLLECT_DEV.api_key,
        "SANDBOX_TIGHT_CLIENT_ID": TIGHT_DEV.client_id,
        "SANDBOX_TIGHT_CLIENT_SECRET": TIGHT_DEV.client_secret,
    }


def server_env(server: ServerDef, urls: dict[str, str], port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
    env.update(sandbox_env(urls))
    if not server.is_clubgraph:
        env = {k: v for k, v in env.items() if not k.startswith("CLUBGRAPH_")}
    env.update(server.env)
    if server.port_env:
        env[server.port_env] = str(port)
    return env


class PeerError(ValueError):
    """A peer.json that does not follow the contract."""


def load_peer(folder: Path) -> ServerDef:
    """The ServerDef a peer folder declares in its ``peer.json``."""
    spec = json.loads((folder / "peer.json").read_text())
    command = spec.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise PeerError(f"{folder / 'peer.json'}: 'command' must be a list of strings")
    port_env = spec.get("port_env")
    if port_env is None and not any("{port}" in c for c in command):
        raise PeerError(f"{folder / 'peer.json'}: give 'port_env' or '{{port}}' in the command")
    workloads = tuple(spec.get("workloads", ALL_WORKLOADS))
    unknown = set(workloads) - set(ALL_WORKLOADS)
    if unknown:
        raise PeerError(f"{folder / 'peer.json'}: unknown workloads {sorted(unknown)}")
    lock = folder / "package-lock.json"
    return ServerDef(
        name=folder.name,
        command=command,
        cwd=folder,
        env={str(k): str(v) for k, v in spec.get("env", {}).items()},
        port_env=port_env,
        graphql_path=spec.get("graphql_path", "/graphql"),
        ready_timeout_s=float(spec.get("ready_timeout_s", 90)),
        workloads=workloads,
        overrides=spec.get("overrides", {}),
        lock_file=lock if lock.exists() else None,
    )


def resolve_servers(names: list[str]) -> tuple[list[ServerDef], list[str]]:
    """The servers asked for, and a message for each one that cannot run."""
    servers: list[ServerDef] = []
    problems: list[str] = []
    for name in names:
        if name == "clubgraph":
            servers.append(clubgraph_server())
            continue
        workers = _WORKERS.fullmatch(name)
        if workers is not None:
            servers.append(clubgraph_server(int(workers.group(1))))
            continue
        folder = PEERS_DIR / name
        if not (folder / "peer.json").exists():
            problems.append(f"{name}: no {folder.relative_to(REPO)}/peer.json; skipped")
            continue
        try:
            peer = load_peer(folder)
        except (PeerError, ValueError) as exc:
            problems.append(f"{name}: {exc}; skipped")
            continue
        if (folder / "package.json").exists() and not (folder / "node_modules").exists():
            problems.append(f"{name}: no node_modules (run npm ci in {folder}); skipped")
            continue
        servers.append(peer)
    return servers, problems
