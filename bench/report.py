"""Render a performance run as markdown: the figures per size, the targets, the profiles."""

from __future__ import annotations

from collections.abc import Callable

from bench.loadgen import LoadResult, median, percentile
from bench.profile import AREAS

Row = tuple[str, Callable[[dict], str]]
KINDS = (
    "literal",
    "width",
    "reading",
    "words",
    "phrase",
    "operator",
    "filtered",
    "browse",
    "page",
    "no hit",
    "natural",
)


def ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000


def three(values: list[float]) -> str:
    """Format p50 / p95 / p99 of latencies in seconds as milliseconds.

    >>> three([0.001, 0.002, 0.004])
    '2.0 / 4.0 / 4.0'
    """
    return " / ".join(_number(ms(values, p)) for p in (50, 95, 99))


def _number(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _load(result: LoadResult | None) -> str:
    if result is None:
        return "–"
    return (
        f"{result.throughput:,.0f} ({_number(result.percentile(50))} / "
        f"{_number(result.percentile(95))})"
    )


def _g(size: dict, key: str, render: Callable) -> str:
    return render(size[key]) if key in size else "–"


def _groonga(size: dict) -> dict:
    return {"one": size["one"].get("groonga"), "eight": size["eight"].get("groonga")}


def _errors(size: dict, name: str) -> str:
    results = [size["one"].get(name), size["eight"].get(name)]
    if name == "ours":
        results.append(size["one"]["healthz"])
    present = [r for r in results if r is not None]
    if not present:
        return "–"
    return f"{sum(r.errors for r in present)} of {sum(r.requests for r in present):,}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "–"


ROWS: list[Row] = [
    ("items", lambda s: f"{s['items']:,}"),
    ("queries in the fixed list (run at this size)", lambda s: str(s["queries"])),
    ("index build, s (fresh process, imports excluded)", lambda s: f"{s['build_s']:.2f}"),
    ("index on disk, MB (segments)", lambda s: f"{s['disk_mb']:.1f} ({s['segments']})"),
    ("build peak RSS, MB (largest process)", lambda s: f"{s['build_rss_mb']:,.0f}"),
    ("search function p50 / p95 / p99, ms (warm)", lambda s: three(s["fn_warm"])),
    ("search function p50 / p95 / p99, ms (first pass, cold)", lambda s: three(s["fn_cold"])),
    (
        "search function p50 / p95 / p99, ms (warm, 0.5 ms idle before each)",
        lambda s: three(s["fn_idle"]),
    ),
    ("open the index in a process, s", lambda s: f"{s['open_s']:.2f}"),
    ("server start to first 200, s", lambda s: f"{s['start_s']:.2f}"),
    ("`/healthz` p50, ms (1 client)", lambda s: _number(s["one"]["healthz"].percentile(50))),
    ("`/api/search` p50 / p95 / p99, ms (1 client)", lambda s: three(s["one"]["ours"].latencies)),
    (
        "`/api/search` p50 ÷ `/healthz` p50",
        lambda s: _ratio(s["one"]["ours"].percentile(50), s["one"]["healthz"].percentile(50)),
    ),
    ("`/api/search` req/s, 8 clients (p50 / p95 ms)", lambda s: _load(s["eight"].get("ours"))),
    ("errors, ours (non-200 or none)", lambda s: _errors(s, "ours")),
    ("server peak RSS, MB", lambda s: f"{s['server_rss_mb']:,.0f}"),
    (
        "Groonga load, s / on disk, MB",
        lambda s: (
            f"{s['groonga_load_s']:.1f} / {s['groonga_disk_mb']:,.0f}"
            if "groonga_load_s" in s
            else "–"
        ),
    ),
    (
        "Groonga `select` p50 / p95 / p99, ms (1 client)",
        lambda s: three(_groonga(s)["one"].latencies) if _groonga(s)["one"] else "–",
    ),
    (
        "ours ÷ Groonga, p50 (1 client)",
        lambda s: (
            _ratio(s["one"]["ours"].percentile(50), _groonga(s)["one"].percentile(50))
            if _groonga(s)["one"]
            else "–"
        ),
    ),
    ("Groonga req/s, 8 clients (p50 / p95 ms)", lambda s: _load(_groonga(s)["eight"])),
    ("errors, Groonga", lambda s: _errors(s, "groonga")),
    ("Groonga peak RSS, MB", lambda s: _g(s, "groonga_rss_mb", lambda v: f"{v:,.0f}")),
]


def figures_table(report: dict) -> str:
    sizes = report["sizes"]
    lines = [
        "| | " + " | ".join(f"{s['scale']:g}×" for s in sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    lines += [
        f"| {label} | " + " | ".join(render(s) for s in sizes) + " |" for label, render in ROWS
    ]
    return "\n".join(lines)


def kinds_table(report: dict) -> str:
    sizes = report["sizes"]
    lines = [
        "| kind | " + " | ".join(f"{s['scale']:g}×" for s in sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    for kind in KINDS:
        cells = [
            _number(s["fn_kind_p95"][kind]) if kind in s["fn_kind_p95"] else "–" for s in sizes
        ]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def profile_table(report: dict) -> str:
    sizes = report["sizes"]
    heads = [f"{s['scale']:g}× {when}" for s in sizes for when in ("cold", "warm")]
    lines = [
        "| area | " + " | ".join(heads) + " |",
        "| --- | " + " | ".join("---:" for _ in heads) + " |",
    ]
    for area in AREAS:
        cells = [
            f"{s[f'profile_{when}'][area] * 100:.0f}%" for s in sizes for when in ("cold", "warm")
        ]
        lines.append(f"| {area} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: dict) -> list[tuple[str, bool, str]]:
    """Return (target, met, figure) for each target of the issue at the sizes that were run."""
    checks = []
    for s in report["sizes"]:
        label = f"{s['scale']:g}×"
        one, eight = s["one"], s["eight"].get("ours")
        p95 = ms(s["fn_warm"], 95)
        if s["scale"] == 1:
            api50, health50 = one["ours"].percentile(50), one["healthz"].percentile(50)
            checks += [
                (f"{label}: full build ≤ 2 s", s["build_s"] <= 2, f"{s['build_s']:.2f} s"),
                (f"{label}: search function p95 ≤ 5 ms", p95 <= 5, f"{p95:.1f} ms"),
                (
                    f"{label}: `/api/search` p50 ≤ 2.5 × `/healthz` p50",
                    api50 <= 2.5 * health50,
                    f"{api50:.2f} ms vs {health50:.2f} ms ({api50 / health50:.1f}×)",
                ),
                (
                    f"{label}: `/api/search` p95 ≤ 15 ms (1 client)",
                    one["ours"].percentile(95) <= 15,
                    f"{one['ours'].percentile(95):.1f} ms",
                ),
                (
                    f"{label}: ≥ 300 requests/s with 8 clients",
                    eight is not None and eight.throughput >= 300,
                    f"{eight.throughput:,.0f} req/s" if eight else "–",
                ),
                (
                    f"{label}: server start to first answer ≤ 2 s",
                    s["start_s"] <= 2,
                    f"{s['start_s']:.2f} s",
                ),
            ]
        if s["scale"] == 100:
            checks += [
                (f"{label}: build ≤ 60 s", s["build_s"] <= 60, f"{s['build_s']:.1f} s"),
                (f"{label}: search function p95 ≤ 50 ms", p95 <= 50, f"{p95:.1f} ms"),
                (
                    f"{label}: server RSS ≤ 400 MB",
                    s["server_rss_mb"] <= 400,
                    f"{s['server_rss_mb']:.0f} MB",
                ),
            ]
        if s["scale"] == 1000:
            checks.append(
                (f"{label}: the build completes", s["items"] > 0, f"{s['items']:,} items")
            )
        errors = sum(r.errors for r in (*one.values(), *s["eight"].values()))
        checks.append((f"{label}: zero HTTP errors", errors == 0, f"{errors} errors"))
    return checks


def markdown_report(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Run of {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}.",
        "",
        figures_table(report),
        "",
        "Targets:",
        "",
        *(
            f"- {'met' if met else '**not met**'}: {name} — {figure}"
            for name, met, figure in targets(report)
        ),
        "",
        "Search function p95 by kind of query (warm), ms:",
        "",
        kinds_table(report),
        "",
        "Where the search function's time goes (cProfile of one pass over the queries; cold = "
        "highlight cache emptied first):",
        "",
        profile_table(report),
    ]
    for size in report["sizes"]:
        for mode in ("one", "eight"):
            for name, result in size[mode].items():
                lines += [f"Error at {size['scale']:g}× ({name}): {p}" for p in result.problems]
    if report.get("groonga_skipped"):
        lines += ["", f"Groonga skipped: {report['groonga_skipped']}."]
    return "\n".join(lines)


def summary(result: LoadResult) -> dict:
    return {
        "requests": result.requests,
        "errors": result.errors,
        "problems": list(result.problems),
        "seconds": result.seconds,
        "per_second": result.throughput,
        **{f"p{p}_ms": result.percentile(p) for p in (50, 95, 99)},
    }


def public(report: dict) -> dict:
    """Return the report as plain JSON data: summaries instead of every latency."""
    sizes = []
    for s in report["sizes"]:
        lists = ("fn_cold", "fn_warm", "fn_idle")
        size = {k: v for k, v in s.items() if k not in (*lists, "one", "eight")}
        for key in lists:
            size[key] = {f"p{p}_ms": ms(s[key], p) for p in (50, 95, 99)}
            size[key]["median_ms"] = median(s[key]) * 1000
        size["one"] = {name: summary(r) for name, r in s["one"].items()}
        size["eight"] = {name: summary(r) for name, r in s["eight"].items()}
        sizes.append(size)
    return {**report, "sizes": sizes}
