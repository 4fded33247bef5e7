"""``python -m bench.instructions``: instructions per request, counted by callgrind.

Times vary with what else the machine runs; a count of executed instructions does not.
On a machine shared with other work (a CI runner, a cloud VM with busy neighbours) the
same run can take a third more time from one minute to the next, and a change that
saves 5 % is lost in that. This counts, for each workload, the instructions one
clubgraph process executes to serve N requests, with valgrind's callgrind:

1. The sandbox runs as a process of its own (upstream latency 0, answers served from
   memory, the W0 data for W0), outside valgrind.
2. A child process runs under ``valgrind --tool=callgrind --instr-atstart=no``: it serves
   clubgraph with uvicorn on loopback (``clubgraph serve``'s settings: compiled
   executor, the collector settled) and sends the workload from an aiohttp client in the
   same process, so that nothing it does is left uncounted. It runs the workload
   ``--warmup`` times (tokens, tenant lists, caches), turns instrumentation on
   (``callgrind_control -i on``), runs it ``--requests`` times, one at a time, and turns
   it off.
3. The count is callgrind's total over the measured requests, divided by their number.
   It includes the client's share (building the request, decoding the answer), which is
   the same for every version of the server.

The same commit gives the same count to within 0.1 %, so two commits can be compared by
running this on each. Under valgrind the code runs about 50 times slower: a few
requests per workload take a minute or two. Figures go to stdout and
``bench/results/instructions.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from .procs import free_port
from .runner import sandbox_process
from .servers import REPO, clubgraph_server

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_REQUESTS = {"W0": 10, "W1": 5, "W2": 2, "W3": 10, "W4": 10}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--workloads", default="W0,W1,W2,W3,W4")
    parser.add_argument("--requests", type=int, default=None, help="measured requests")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CLUBGRAPH_* setting of the measured server, e.g. CLUBGRAPH_ROW_MEMO_MB=0",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the child: clubgraph and its client in one process, under callgrind --------------


async def _child(job: dict[str, Any]) -> None:
    import uvicorn

    from clubgraph.app import create_app
    from clubgraph.collector import settle_for_serving
    from clubgraph.settings import Settings

    from .graphql import run_iteration
    from .workloads import build_spec

    settings = Settings.from_env()
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    settle_for_serving()
    url = f"http://127.0.0.1:{port}/graphql"
    async with aiohttp.ClientSession() as http:
        spec = await build_spec(job["workload"], clubgraph_server(), url, http)
        for _ in range(job["warmup"]):
            await run_iteration(http, spec)
        await asyncio.sleep(0.5)  # whatever the warm-up started in the background
        _instrument("on")
        for _ in range(job["requests"]):
            await run_iteration(http, spec)
        _instrument("off")
    server.should_exit = True
    await task


def _instrument(state: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# --- the parent ------------------------------------------------------------------------


def callgrind_command(out_file: Path, module: str, *args: str) -> list[str]:
    """``python -m module args`` under callgrind, counting nothing until the program
    turns instrumentation on (``_instrument``)."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_file}",
        sys.executable,
        "-m",
        module,
        *args,
    ]


def valgrind_missing() -> bool:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind); nothing measured")
        return True
    return False


def _total(out_file: Path) -> int:
    for line in out_file.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


async def _measure(
    name: str, requests: int, warmup: int, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    sandbox, urls = await sandbox_process(0, workdir, bench=name == "W0")
    try:
        from .servers import sandbox_env

        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
        child_env = {**env, **sandbox_env(urls), **clubgraph_server().env, **settings}
        job = workdir / f"{name}.json"
        job.write_text(json.dumps({"workload": name, "requests": requests, "warmup": warmup}))
        out = workdir / f"callgrind.{name}.out"
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *callgrind_command(out, "bench.instructions", "--child", str(job)),
            cwd=REPO,
            env=child_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        log, _ = await proc.communicate()
        if proc.returncode != 0:
            tail = log.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{name}: the child failed ({proc.returncode}):\n{tail}")
        total = _total(out)
        return {
            "workload": name,
            "requests": requests,
            "instructions_per_request": total // requests,
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        sandbox.stop()


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


async def _main(args: argparse.Namespace) -> int:
    if valgrind_missing():
        return 0
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [n for n in names if not re.fullmatch(r"W[0-4]", n)]
    if unknown:
        print(f"unknown workloads: {', '.join(unknown)}", file=sys.stderr)
        return 2
    settings = dict(item.partition("=")[::2] for item in args.set)
    wrong = [k for k in settings if not k.startswith("CLUBGRAPH_")]
    if wrong:
        print(f"not a CLUBGRAPH_* setting: {', '.join(wrong)}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="clubgraph-instructions-") as tmp:
        for name in names:
            requests = args.requests or DEFAULT_REQUESTS[name]
            row = await _measure(name, requests, args.warmup, Path(tmp), settings)
            print(
                f"{name}  {row['instructions_per_request'] / 1e6:8.2f} M instructions/request"
                f"  ({requests} requests, {row['seconds']} s under valgrind)",
                flush=True,
            )
            rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    report = {"commit": _commit(), "settings": settings, "rows": rows}
    (RESULTS / "instructions.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        asyncio.run(_child(json.loads(Path(args.child).read_text())))
        return 0
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
