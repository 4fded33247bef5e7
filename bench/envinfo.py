"""Where the figures were measured: versions and the machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .servers import REPO, ServerDef


def _run(*argv: str) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def peer_packages(folder: Path) -> dict[str, str]:
    """The installed version (from package-lock.json) of each direct dependency."""
    try:
        manifest = json.loads((folder / "package.json").read_text())
        lock = json.loads((folder / "package-lock.json").read_text())
    except (OSError, ValueError):
        return {}
    wanted = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    packages = lock.get("packages", {})
    out: dict[str, str] = {}
    for name, asked in sorted(wanted.items()):
        entry = packages.get(f"node_modules/{name}") or lock.get("dependencies", {}).get(name, {})
        out[name] = entry.get("version", asked)
    return out


def environment(servers: list[ServerDef]) -> dict[str, Any]:
    node = shutil.which("node")
    return {
        "python": platform.python_version(),
        "clubgraph": _version("clubgraph"),
        "packages": {
            d: _version(d)
            for d in (
                "strawberry-graphql",
                "graphql-core",
                "uvicorn",
                "starlette",
                "aiohttp",
                "uvloop",
                "httptools",
                "orjson",
                "msgspec",
            )
        },
        "node": _run(node, "--version") if node else None,
        "peers": {s.name: peer_packages(s.cwd) for s in servers if s.lock_file is not None},
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "commit": _run("git", "-C", str(REPO), "rev-parse", "HEAD"),
    }
