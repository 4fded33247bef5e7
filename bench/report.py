"""The figures as a table, and as a chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("server", 10),
    ("wl", 3),
    ("lat", 4),
    ("upstream/min", 12),
    ("p50 ms", 8),
    ("p99 ms", 8),
    ("floor", 6),
    ("rps@1", 7),
    ("rps@16", 7),
    ("rps@64", 7),
    ("cpu us/req", 10),
    ("rss MB", 7),
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _rps(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return "skip"
    return _fmt(result.get("throughput_rps"))


def cells(row: dict[str, Any]) -> list[str]:
    if "error" in row:
        return [
            row["server"],
            row["workload"],
            str(row["latency_ms"]),
            "error: " + row["error"][:60],
        ]
    up = row["upstream"]
    lat = row["latency"].get("latency_ms", {})
    tp = row["throughput"]
    # CPU per request at concurrency 16 (the server busy, the machine not yet overrun),
    # else the highest concurrency run, else the sequential latency run.
    ran = [tp[c] for c in ("16", "64", "1") if "throughput_rps" in tp.get(c, {})]
    cpu = (ran[0] if ran else row["latency"]).get("cpu_us_per_request")
    errors = sum(r.get("errors", 0) for r in tp.values()) + row["latency"]["errors"]
    return [
        row["server"],
        row["workload"],
        str(row["latency_ms"]),
        f"{up['requests']}/{_fmt(up.get('minimum'))}",
        _fmt(lat.get("p50")),
        _fmt(lat.get("p99")),
        str(row["floor_ms"]),
        *(_rps(tp.get(c, {})) for c in ("1", "16", "64")),
        _fmt(cpu),
        _fmt(row.get("peak_rss_mb")) + ("" if not errors else f" ({errors} err)"),
    ]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["  ".join(name.rjust(width) for name, width in COLUMNS)]
    for row in rows:
        values = cells(row)
        if "error" in row:
            lines.append(
                "  ".join(v.rjust(w) for v, (_, w) in zip(values[:3], COLUMNS, strict=False))
                + "  "
                + values[3]
            )
            continue
        lines.append("  ".join(v.rjust(w) for v, (_, w) in zip(values, COLUMNS, strict=True)))
    return "\n".join(lines)


# The same columns as a Markdown table (docs/benchmarks.md).
_MARKDOWN_HEADER = (
    "server",
    "wl",
    "latency",
    "upstream/min",
    "p50 ms",
    "p99 ms",
    "floor ms",
    "rps@1",
    "rps@16",
    "rps@64",
    "CPU µs/req",
    "RSS MB",
)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table as Markdown, rows in the run's order."""
    lines = [
        "| " + " | ".join(_MARKDOWN_HEADER) + " |",
        "|" + "---|" * len(_MARKDOWN_HEADER),
    ]
    for row in rows:
        values = cells(row)
        if "error" in row:
            values = values[:3] + [values[3]] + [""] * (len(_MARKDOWN_HEADER) - 4)
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def row_summary(row: dict[str, Any]) -> str:
    return " ".join(
        f"{name}={value}" for (name, _), value in zip(COLUMNS, cells(row), strict=False)
    )


def soak_summary(soak: dict[str, Any]) -> str:
    if "error" in soak:
        return f"soak: error: {soak['error']}"
    load = soak["load"]
    lat = load.get("latency_ms", {})
    samples = ", ".join(f"{s['t_s']:.0f}s {s['rss_mb']:.1f}" for s in soak["rss_samples"])
    return (
        f"soak {soak['server']} {soak['workload']} @{soak['latency_ms']}ms, "
        f"{soak['rate_rps']:g} req/s for {soak['duration_s']:g} s: {load['completed']} done, "
        f"{load['errors']} errors, {load['dropped']} dropped, p50 {lat.get('p50')} ms, "
        f"p99 {lat.get('p99')} ms, cpu {soak['cpu_us_per_request']} us/req; "
        f"RSS MB start {soak['rss_start_mb']}, end {soak['rss_end_mb']}, peak "
        f"{soak['peak_rss_mb']} (samples: {samples})"
        + (
            "; the server did not keep up with the rate (requests dropped at "
            "max-in-flight): this soak measured overload, lower --soak-rate"
            if load["dropped"] or load["errors"]
            else ""
        )
    )


def chart(results: dict[str, Any], path: Path) -> Path | None:
    """Throughput per workload per server, and latency against the floor, per latency."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in results["rows"] if "error" not in r]
    if not rows:
        return None
    latencies = sorted({r["latency_ms"] for r in rows})
    servers = list(dict.fromkeys(r["server"] for r in rows))
    workloads = sorted({r["workload"] for r in rows})
    by_key = {(r["server"], r["workload"], r["latency_ms"]): r for r in rows}
    floor = {(r["workload"], r["latency_ms"]): r["floor_ms"] for r in rows}
    fig, axes = plt.subplots(2, len(latencies), figsize=(5 * len(latencies), 8), squeeze=False)
    width = 0.8 / max(1, len(servers))
    for col, latency in enumerate(latencies):
        top, bottom = axes[0][col], axes[1][col]
        for i, server in enumerate(servers):
            best, p50 = [], []
            for w in workloads:
                row = by_key.get((server, w, latency))
                tp = row["throughput"] if row else {}
                best.append(max((t.get("throughput_rps", 0) for t in tp.values()), default=0))
                p50.append(row["latency"].get("latency_ms", {}).get("p50", 0) if row else 0)
            xs = [x + i * width for x in range(len(workloads))]
            top.bar(xs, best, width, label=server)
            bottom.bar(xs, p50, width, label=f"{server} p50")
        floors = [floor.get((w, latency), 0) for w in workloads]
        centers = [x + width * (len(servers) - 1) / 2 for x in range(len(workloads))]
        bottom.scatter(centers, floors, marker="_", s=900, color="black", label="floor", zorder=3)
        for ax in (top, bottom):
            ax.set_xticks(centers)
            ax.set_xticklabels(workloads)
        top.set_title(f"throughput, best of c=1/16/64 (upstream {latency} ms)")
        top.set_ylabel("requests/s (log)")
        top.set_yscale("symlog", linthresh=1)
        bottom.set_title(f"p50 latency vs critical-path floor ({latency} ms)")
        bottom.set_ylabel("ms (log)")
        bottom.set_yscale("symlog", linthresh=1)
        top.legend(fontsize=8)
        bottom.legend(fontsize=8)
    fig.suptitle(f"clubgraph benchmark {results['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report [results.json]``: a run's table as Markdown."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parent / "results" / "latest.json"
    print(markdown(json.loads(path.read_text())["rows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
