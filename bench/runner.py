"""The benchmark run: per latency, per server, per workload (README.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from . import report
from .envinfo import environment
from .graphql import IterationError, run_iteration
from .minimums import MINIMUMS
from .procs import Proc, cpu_seconds, free_port, free_port_base, peak_rss_mb, rss_mb
from .servers import (
    ALL_WORKLOADS,
    BENCH_DIR,
    REPO,
    SOURCES,
    ServerDef,
    clubgraph_server,
    resolve_servers,
    server_env,
)
from .workloads import build_spec, document

RESULTS = BENCH_DIR / "results"
OFFSETS = {"fitnessforce": 1, "timetap": 2, "clubcollect": 3, "tight": 4}
CONCURRENCIES = (1, 16, 64)


@dataclass
class Plan:
    workloads: list[str]
    latencies: list[int]
    peers: list[str]
    duration: float
    samples: int
    latency_budget_s: float
    max_round_s: float
    warmup: int
    concurrencies: tuple[int, ...]
    sandbox_cache: bool
    soak: bool
    soak_duration: float
    soak_rate: float
    soak_latency: int
    soak_workload: str
    soak_server: str
    variables: dict[str, dict[str, Any]]
    quick: bool


def _env_default(name: str, default: str) -> str:
    return os.environ.get(f"BENCH_{name}", default)


def parse_args(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=_env_default("QUICK", "") == "1")
    parser.add_argument("--workloads", default=_env_default("WORKLOADS", ",".join(ALL_WORKLOADS)))
    parser.add_argument(
        "--latencies", default=os.environ.get("BENCH_LATENCIES"), help="ms (default 0,20,50)"
    )
    parser.add_argument(
        "--peers", default=_env_default("PEERS", "clubgraph,clubgraph-2w,apollo,mesh")
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds per throughput run (default 3, --quick 1)",
    )
    parser.add_argument(
        "--samples", type=int, default=None, help="sequential requests for latency (default 30)"
    )
    parser.add_argument(
        "--max-round",
        type=float,
        default=None,
        help="skip a concurrency whose one round needs more server CPU seconds (default 15)",
    )
    parser.add_argument(
        "--no-sandbox-cache",
        action="store_true",
        help="do not pass --cache-responses to the sandbox",
    )
    parser.add_argument("--soak", action="store_true", default=_env_default("SOAK", "") == "1")
    parser.add_argument("--soak-duration", type=float, default=600.0)
    parser.add_argument("--soak-rate", type=float, default=50.0)
    parser.add_argument("--soak-latency", type=int, default=20)
    parser.add_argument("--soak-workload", default="W1", help="the soak's workload (default W1)")
    parser.add_argument(
        "--soak-server", default="clubgraph", help="clubgraph or clubgraph-<n>w (default clubgraph)"
    )
    parser.add_argument(
        "--vars",
        action="append",
        default=[],
        metavar="W=JSON",
        help='extra variables of a workload, e.g. W0=\'{"tenant": "103"}\'',
    )
    args = parser.parse_args(argv)
    duration_env = os.environ.get("BENCH_DURATION")
    duration = args.duration or (float(duration_env) if duration_env else None)
    variables: dict[str, dict[str, Any]] = {}
    for item in args.vars:
        name, _, raw = item.partition("=")
        variables[name.strip().upper()] = json.loads(raw)
    return Plan(
        workloads=[w.strip().upper() for w in args.workloads.split(",") if w.strip()],
        latencies=[
            int(x)
            for x in (args.latencies or ("0,50" if args.quick else "0,20,50")).split(",")
            if x.strip()
        ],
        peers=[p.strip() for p in args.peers.split(",") if p.strip()],
        duration=duration or (1.0 if args.quick else 3.0),
        samples=args.samples or (8 if args.quick else 30),
        latency_budget_s=2.0 if args.quick else 6.0,
        max_round_s=args.max_round or (6.0 if args.quick else 15.0),
        warmup=2,
        concurrencies=CONCURRENCIES,
        sandbox_cache=not args.no_sandbox_cache,
        soak=args.soak,
        soak_duration=args.soak_duration,
        soak_rate=args.soak_rate,
        soak_latency=args.soak_latency,
        soak_workload=args.soak_workload.strip().upper(),
        soak_server=args.soak_server.strip(),
        variables=variables,
        quick=args.quick,
    )


def _say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _clubgraph_exe() -> list[str]:
    return clubgraph_server().command[:1]


def _sandbox_flags() -> set[str]:
    """The optional flags this clubgraph's ``sandbox`` command knows."""
    out = subprocess.run(
        [*_clubgraph_exe(), "sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    return {flag for flag in ("--bench", "--cache-responses") if flag in out}


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.flags = _sandbox_flags()
        self.messages: list[str] = []

    def note(self, msg: str) -> None:
        _say(msg)
        self.messages.append(msg)

    # --- processes -------------------------------------------------------------------

    async def start_sandbox(
        self, latency: int, http: aiohttp.ClientSession, *, bench: bool = False
    ) -> tuple[Proc, dict[str, str]]:
        base = free_port_base()
        argv = [
            *_clubgraph_exe(),
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port-base",
            str(base),
            "--latency-ms",
            str(latency),
        ]
        if bench and "--bench" in self.flags:
            argv.append("--bench")
        if "--cache-responses" in self.flags and self.plan.sandbox_cache:
            argv.append("--cache-responses")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
        proc = Proc.start(
            "sandbox", argv, env=env, cwd=REPO, log_path=self.workdir / f"sandbox-{latency}.log"
        )
        urls = {s: f"http://127.0.0.1:{base + OFFSETS[s]}" for s in SOURCES}
        for url in urls.values():
            await _wait_http(http, "GET", url + "/__sandbox/requests", None, 60, proc)
        return proc, urls

    async def start_server(
        self, server: ServerDef, urls: dict[str, str], http: aiohttp.ClientSession, tag: str
    ) -> tuple[Proc, str]:
        port = free_port()
        env = server_env(server, urls, port)
        proc = Proc.start(
            server.name,
            server.argv(port),
            env=env,
            cwd=server.cwd,
            log_path=self.workdir / f"{server.name}-{tag}.log",
        )
        url = f"http://127.0.0.1:{port}{server.graphql_path}"
        await _wait_http(
            http, "POST", url, {"query": "{ __typename }"}, server.ready_timeout_s, proc
        )
        return proc, url

    # --- measurements ----------------------------------------------------------------

    async def load(self, spec_path: Path, *args: str, limit_s: float) -> dict[str, Any]:
        """Run the load generator (a process of its own) and return what it printed."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            "--spec",
            str(spec_path),
            *args,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"load generator timed out after {limit_s:.0f}s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.decode()[-1500:]}")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result

    async def upstream_count(
        self, http: aiohttp.ClientSession, urls: dict[str, str], spec: dict[str, Any], name: str
    ) -> dict[str, Any]:
        await self._clear(http, urls)
        bodies = await run_iteration(http, spec)
        by_source: dict[str, int] = {}
        paths: dict[str, int] = {}
        for source, url in urls.items():
            async with http.get(url + "/__sandbox/requests") as resp:
                entries = await resp.json()
            by_source[source] = len(entries)
            for e in entries:
                key = f"{source} {e.get('method')} {e.get('path')}"
                paths[key] = paths.get(key, 0) + 1
        out: dict[str, Any] = {
            "requests": sum(by_source.values()),
            "by_source": by_source,
            "by_path": dict(sorted(paths.items(), key=lambda kv: -kv[1])),
        }
        try:
            out["minimum"] = MINIMUMS[name].requests(bodies)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            out["minimum"] = None  # the answer does not have the canonical shape
        return out

    async def quiesce(
        self, http: aiohttp.ClientSession, urls: dict[str, str], latency: int, limit: float = 60.0
    ) -> float:
        """Wait until the server has stopped calling the sandbox on its own (clubgraph
        crawls ClubCollect's imports into its index in the background after it starts);
        the seconds waited."""
        began = time.monotonic()
        quiet_s = 0.3 + 3 * latency / 1000
        while time.monotonic() - began < limit:
            await self._clear(http, urls)
            await asyncio.sleep(quiet_s)
            if not await self._logged(http, urls):
                break
        return round(time.monotonic() - began, 1)

    async def _clear(self, http: aiohttp.ClientSession, urls: dict[str, str]) -> None:
        for url in urls.values():
            async with http.delete(url + "/__sandbox/requests") as resp:
                resp.raise_for_status()

    async def _logged(self, http: aiohttp.ClientSession, urls: dict[str, str]) -> int:
        count = 0
        for url in urls.values():
            async with http.get(url + "/__sandbox/requests") as resp:
                count += len(await resp.json())
        return count

    async def settle(self, proc: Proc, limit: float = 60.0) -> None:
        """Wait until the server is idle (work left by cancelled requests done)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = cpu_seconds(proc.pid)
            await asyncio.sleep(0.5)
            if cpu_seconds(proc.pid) - before < 0.05:
                return

    async def run_workload(
        self,
        server: ServerDef,
        name: str,
        latency: int,
        http: aiohttp.ClientSession,
    ) -> dict[str, Any]:
        plan = self.plan
        row: dict[str, Any] = {"server": server.name, "workload": name, "latency_ms": latency}
        minimum = MINIMUMS[name]
        row["floor_ms"] = minimum.round_trips * latency
        row["round_trips"] = minimum.round_trips
        # A fresh sandbox and server per workload: W4's writes and one workload's
        # memory never shape another's figures. Only W0 needs the benchmark tenant.
        sandbox, urls = await self.start_sandbox(latency, http, bench=name == "W0")
        proc: Proc | None = None
        try:
            proc, url = await self.start_server(server, urls, http, f"{name}-{latency}")
            spec = await build_spec(name, server, url, http, plan.variables.get(name))
            spec_path = self.workdir / f"spec-{server.name}-{name}.json"
            spec_path.write_text(json.dumps(spec))
            began = time.perf_counter()
            for _ in range(plan.warmup):
                await run_iteration(http, spec)
            per_iteration = (time.perf_counter() - began) / plan.warmup
            row["quiesce_s"] = await self.quiesce(http, urls, latency)
            row["upstream"] = await self.upstream_count(http, urls, spec, name)
            # As many sequential samples as fit the time budget (at least 5).
            samples = max(5, min(plan.samples, int(plan.latency_budget_s / per_iteration)))
            cpu_before = cpu_seconds(proc.pid)
            row["latency"] = await self.load(
                spec_path,
                "--count",
                str(samples),
                limit_s=60 + samples * per_iteration * 4,
            )
            done = row["latency"]["completed"]
            cpu_per_request = (cpu_seconds(proc.pid) - cpu_before) / max(1, done)
            row["latency"]["cpu_us_per_request"] = round(cpu_per_request * 1e6)
            throughput: dict[str, Any] = {}
            for c in plan.concurrencies:
                # One round of c requests costs c x the CPU of one on a server that uses
                # one core; past the budget the run would only measure a queue.
                round_s = c * cpu_per_request
                if c > 1 and round_s > plan.max_round_s:
                    throughput[str(c)] = {
                        "skipped": f"one round of {c} requests needs about {round_s:.0f} s "
                        f"of server CPU (budget {plan.max_round_s:g} s)"
                    }
                    continue
                cpu_before = cpu_seconds(proc.pid)
                result = await self.load(
                    spec_path,
                    "--concurrency",
                    str(c),
                    "--duration",
                    str(plan.duration),
                    limit_s=plan.duration + 120,
                )
                await self.settle(proc)
                cpu = cpu_seconds(proc.pid) - cpu_before
                done = result["completed"]
                result["server_cpu_s"] = round(cpu, 3)
                result["cpu_us_per_request"] = round(cpu / done * 1e6) if done else None
                throughput[str(c)] = result
            row["throughput"] = throughput
            row["peak_rss_mb"] = round(peak_rss_mb(proc.pid), 1)
        except (IterationError, LookupError, RuntimeError, aiohttp.ClientError, OSError) as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            self.note(f"{server.name} {name} @{latency}ms: {row['error'][:300]}")
        finally:
            if proc is not None:
                proc.stop()
            sandbox.stop()
        return row

    async def run(self, servers: list[ServerDef], workloads: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for latency in self.plan.latencies:
                for server in servers:
                    # W4 writes; it goes last anyway (each workload has its own sandbox).
                    for name in [w for w in workloads if w in server.workloads]:
                        _say(f"{server.name} {name} @{latency}ms")
                        row = await self.run_workload(server, name, latency, http)
                        rows.append(row)
                        if "error" not in row:
                            _say(report.row_summary(row))
        _borrow_minimums(rows)
        return rows

    async def soak(self, servers: list[ServerDef]) -> dict[str, Any]:
        plan = self.plan
        server = next((s for s in servers if s.name == plan.soak_server), None)
        if server is None:
            found, problems = resolve_servers([plan.soak_server])
            if not found:
                return {"server": plan.soak_server, "error": "; ".join(problems)}
            server = found[0]
        out: dict[str, Any] = {
            "server": server.name,
            "workload": plan.soak_workload,
            "latency_ms": plan.soak_latency,
            "rate_rps": plan.soak_rate,
            "duration_s": plan.soak_duration,
        }
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            sandbox, urls = await self.start_sandbox(
                plan.soak_latency, http, bench=plan.soak_workload == "W0"
            )
            proc: Proc | None = None
            try:
                proc, url = await self.start_server(server, urls, http, "soak")
                spec = await build_spec(
                    plan.soak_workload, server, url, http, plan.variables.get(plan.soak_workload)
                )
                spec_path = self.workdir / "spec-soak.json"
                spec_path.write_text(json.dumps(spec))
                for _ in range(plan.warmup):
                    await run_iteration(http, spec)
                await self.quiesce(http, urls, plan.soak_latency)
                samples = [{"t_s": 0.0, "rss_mb": round(rss_mb(proc.pid), 1)}]
                started = time.monotonic()
                cpu_before = cpu_seconds(proc.pid)
                task = asyncio.create_task(
                    self.load(
                        spec_path,
                        "--rate",
                        str(plan.soak_rate),
                        "--duration",
                        str(plan.soak_duration),
                        "--max-in-flight",
                        "256",
                        limit_s=plan.soak_duration + 120,
                    )
                )
                while not task.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(task), 30)
                    samples.append(
                        {
                            "t_s": round(time.monotonic() - started, 1),
                            "rss_mb": round(rss_mb(proc.pid), 1),
                        }
                    )
                    _say(f"soak: {samples[-1]}")
                result = await task
                cpu = cpu_seconds(proc.pid) - cpu_before
                out["load"] = result
                out["rss_samples"] = samples
                out["rss_start_mb"] = samples[0]["rss_mb"]
                out["rss_end_mb"] = samples[-1]["rss_mb"]
                out["peak_rss_mb"] = round(peak_rss_mb(proc.pid), 1)
                done = result["completed"]
                out["cpu_us_per_request"] = round(cpu / done * 1e6) if done else None
            except (IterationError, RuntimeError, aiohttp.ClientError, OSError) as exc:
                out["error"] = f"{type(exc).__name__}: {exc}"[:1000]
                self.note(f"soak: {out['error'][:300]}")
            finally:
                if proc is not None:
                    proc.stop()
                sandbox.stop()
        return out


def _borrow_minimums(rows: list[dict[str, Any]]) -> None:
    """A peer whose answer has another shape gets the minimum computed from clubgraph's
    answer to the same workload on the same data (the sandbox is seeded)."""
    known = {
        (r["workload"], r["latency_ms"]): (r["server"], r["upstream"]["minimum"])
        for r in rows
        if "upstream" in r and r["upstream"].get("minimum") is not None
    }
    for r in rows:
        up = r.get("upstream")
        if up is not None and up.get("minimum") is None:
            found = known.get((r["workload"], r["latency_ms"]))
            if found is not None:
                up["minimum_from"], up["minimum"] = found


async def _wait_http(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any,
    limit_s: float,
    proc: Proc,
) -> None:
    deadline = time.monotonic() + limit_s
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited before it was ready:\n{proc.log_tail()}")
        try:
            async with http.request(
                method, url, json=body, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            last = type(exc).__name__
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {limit_s:.0f}s ({last}):\n{proc.log_tail()}")


async def sandbox_process(
    latency: int, workdir: Path, *, bench: bool = False
) -> tuple[Proc, dict[str, str]]:
    """A sandbox of its own, answering from memory (``--cache-responses``), with the
    benchmark's data when ``bench``; ready when returned, with each source's URL. For
    the tools that run beside a server they measure (``bench.instructions``,
    ``bench.transport``): the process's ``CLUBGRAPH_*`` settings are not passed on."""
    base = free_port_base()
    argv = [*_clubgraph_exe(), "sandbox", "--host", "127.0.0.1", "--port-base", str(base)]
    argv += ["--latency-ms", str(latency), "--cache-responses"] + (["--bench"] if bench else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
    sandbox = Proc.start("sandbox", argv, env=env, cwd=REPO, log_path=workdir / "sandbox.log")
    try:
        urls = {s: f"http://127.0.0.1:{base + OFFSETS[s]}" for s in SOURCES}
        async with aiohttp.ClientSession() as http:
            for url in urls.values():
                await _wait_http(http, "GET", url + "/__sandbox/requests", None, 60, sandbox)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, urls


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    servers, problems = resolve_servers(plan.peers)
    for problem in problems:
        _say(problem)
    workloads: list[str] = []
    skipped = list(problems)
    for name in plan.workloads:
        if name not in MINIMUMS:
            skipped.append(f"{name}: unknown workload; skipped")
        elif document(name) is None and not any(name in s.overrides for s in servers):
            skipped.append(f"{name}: no document in src/clubgraph/workloads yet; skipped")
        else:
            workloads.append(name)
    for msg in skipped[len(problems) :]:
        _say(msg)
    if not servers:
        _say("no server to measure")
        return 2
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="clubgraph-bench-") as tmp:
        bench = Bench(plan, Path(tmp))
        _say(
            f"servers {[s.name for s in servers]}, workloads {workloads}, latencies "
            f"{plan.latencies} ms, {plan.duration:g} s per throughput run, sandbox flags "
            f"{sorted(bench.flags)}"
        )
        rows = asyncio.run(bench.run(servers, workloads))
        soak = asyncio.run(bench.soak(servers)) if plan.soak else None
        messages = skipped + bench.messages
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(servers),
        "settings": {
            "workloads": workloads,
            "latencies_ms": plan.latencies,
            "servers": [s.name for s in servers],
            "duration_s": plan.duration,
            "latency_samples": plan.samples,
            "concurrencies": list(plan.concurrencies),
            "quick": plan.quick,
            "sandbox_flags": sorted(bench.flags) if plan.sandbox_cache else [],
            "load_generator": "python -m bench.load (aiohttp, closed loop, own process)",
        },
        "minimums": {
            name: {
                "round_trips": m.round_trips,
                "round_trips_why": m.round_trips_why,
                "requests_why": m.requests_why,
            }
            for name, m in MINIMUMS.items()
        },
        "rows": rows,
        "soak": soak,
        "messages": messages,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2)
    (RESULTS / f"{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(report.table(rows))
    if soak is not None:
        print(report.soak_summary(soak))
    for msg in messages:
        print(f"note: {msg}")
    chart = report.chart(results, RESULTS / "latest.png")
    print(
        f"results: {RESULTS / (stamp + '.json')}, {RESULTS / 'latest.json'}"
        + (f", {chart}" if chart else "")
    )
    return 0
