"""Render a performance run as markdown: the figures per size, the targets, the profiles."""

from __future__ import annotations

from collections.abc import Callable

from bench.loadgen import LoadResult, median, percentile
from bench.profile import AREAS, BUILD_AREAS
from bench.servers import KINDS as HTTP_KINDS
from bench.servers import MODES, OR_ED, merged

Row = tuple[str, Callable[[dict], str]]
KEEP_ALIVE, NEW_CONNECTION = MODES
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


def _one(size: dict, mode: str, name: str) -> LoadResult | None:
    return size["one"][mode].get(name)


def _eight(size: dict, mode: str, name: str) -> LoadResult | None:
    return size["eight"][mode].get(name)


def ours_all(size: dict, mode: str = KEEP_ALIVE) -> LoadResult:
    """Return our searches of every kind with one client, as one result."""
    return merged([r for name, r in size["one"][mode].items() if name.startswith("ours")])


def results(size: dict, server: str) -> list[LoadResult]:
    """Return every result of one server (`ours`, with `/healthz`, or `groonga`) at a size."""
    found = [
        result
        for table in (*size["one"].values(), *size["eight"].values(), size.get("zipf", {}))
        for name, result in table.items()
        if name.startswith(server) or (server == "ours" and name == "healthz")
    ]
    return found


def _errors(size: dict, name: str) -> str:
    present = results(size, name)
    if not present:
        return "–"
    return f"{sum(r.errors for r in present)} of {sum(r.requests for r in present):,}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "–"


def _two(result: LoadResult | None) -> str:
    """Format p50 / p95 of a result in milliseconds."""
    if result is None:
        return "–"
    return f"{_number(result.percentile(50))} / {_number(result.percentile(95))}"


def _ratios(ours: LoadResult | None, theirs: LoadResult | None) -> str:
    if ours is None or theirs is None:
        return "–"
    return " / ".join(_ratio(ours.percentile(p), theirs.percentile(p)) for p in (50, 95))


def http_rows() -> list[Row]:
    """The rows of one client and of eight, per kind of query and way of connecting."""
    rows: list[Row] = [
        (
            "`/healthz` p50, ms (1 client): keep-alive / new connection",
            lambda s: " / ".join(
                _number(s["one"][mode]["healthz"].percentile(50)) for mode in MODES
            ),
        ),
        (
            "`/api/search` p50 / p95 / p99, ms (1 client, keep-alive, every query)",
            lambda s: three(ours_all(s).latencies),
        ),
        (
            "`/api/search` p50 ÷ `/healthz` p50 (keep-alive)",
            lambda s: _ratio(
                ours_all(s).percentile(50), s["one"][KEEP_ALIVE]["healthz"].percentile(50)
            ),
        ),
    ]
    for kind in HTTP_KINDS:
        for mode in MODES:
            ours, theirs = f"ours {kind}", f"groonga {kind}"
            rows += [
                (
                    f"`/api/search` {kind} p50 / p95, ms (1 client, {mode})",
                    lambda s, m=mode, n=ours: _two(_one(s, m, n)),
                ),
                (
                    f"Groonga `select` {kind} p50 / p95, ms (1 client, {mode})",
                    lambda s, m=mode, n=theirs: _two(_one(s, m, n)),
                ),
                (
                    f"ours ÷ Groonga, {kind} p50 / p95 (1 client, {mode})",
                    lambda s, m=mode, a=ours, b=theirs: _ratios(_one(s, m, a), _one(s, m, b)),
                ),
            ]
    # Context, no target: Groonga's select of the natural queries' words OR-ed, work like ours.
    theirs = f"groonga {OR_ED}"
    for mode in MODES:
        rows += [
            (
                f"Groonga `select` {OR_ED} p50 / p95, ms (1 client, {mode})",
                lambda s, m=mode: _two(_one(s, m, theirs)),
            ),
            (
                f"ours natural ÷ Groonga {OR_ED}, p50 / p95 (1 client, {mode})",
                lambda s, m=mode: _ratios(_one(s, m, "ours natural"), _one(s, m, theirs)),
            ),
        ]
    for kind in HTTP_KINDS:
        for mode in MODES:
            rows += [
                (
                    f"`/api/search` {kind} req/s, 8 clients, {mode} (p50 / p95 ms)",
                    lambda s, m=mode, n=f"ours {kind}": _load(_eight(s, m, n)),
                ),
                (
                    f"Groonga `select` {kind} req/s, 8 clients, {mode} (p50 / p95 ms)",
                    lambda s, m=mode, n=f"groonga {kind}": _load(_eight(s, m, n)),
                ),
            ]
    for mode in MODES:
        rows.append(
            (
                f"Groonga `select` {OR_ED} req/s, 8 clients, {mode} (p50 / p95 ms)",
                lambda s, m=mode: _load(_eight(s, m, theirs)),
            )
        )
    for name, label in ZIPF:
        rows.append(
            (
                f"Zipf mix of every query, 8 clients, keep-alive: {label}, req/s (p50 / p95 ms)",
                lambda s, n=name: _load(s.get("zipf", {}).get(n)),
            )
        )
    return rows


ZIPF = (
    ("ours, cache off", "ours, result cache off"),
    ("ours, cache on", "ours, result cache on"),
    ("groonga, cache on", "Groonga, its cache on"),
)

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
    (
        "warm-up before the timed rows: requests answered of asked, s",
        lambda s: "{:,} of {:,}, {:.0f}".format(*s["warm_up"]),
    ),
    *http_rows(),
    ("errors, ours (non-200 or none)", lambda s: _errors(s, "ours")),
    (
        "server memory, MB: all processes (PSS) / largest peak RSS",
        lambda s: f"{s['server_rss_mb']:,.0f} / {s['server_peak_mb']:,.0f}",
    ),
    (
        "Groonga load, s / on disk, MB",
        lambda s: (
            f"{s['groonga_load_s']:.1f} / {s['groonga_disk_mb']:,.0f}"
            if "groonga_load_s" in s
            else "–"
        ),
    ),
    ("errors, Groonga", lambda s: _errors(s, "groonga")),
    ("Groonga peak RSS, MB", lambda s: _g(s, "groonga_rss_mb", lambda v: f"{v:,.0f}")),
]


def baseline_rows() -> list[Row]:
    """The rows of the server of another commit (``--baseline``), measured beside ours."""
    rows: list[Row] = [
        ("before: server start to first 200, s", lambda s: f"{s['before']['start_s']:.2f}"),
        (
            "before: `/healthz` p50, ms (1 client): keep-alive / new connection",
            lambda s: " / ".join(
                _number(s["one"][mode]["before healthz"].percentile(50)) for mode in MODES
            ),
        ),
    ]
    for kind in HTTP_KINDS:
        for mode in MODES:
            rows.append(
                (
                    f"before: `/api/search` {kind} p50 / p95, ms (1 client, {mode})",
                    lambda s, m=mode, n=f"before {kind}": _two(_one(s, m, n)),
                )
            )
    for kind in HTTP_KINDS:
        for mode in MODES:
            rows.append(
                (
                    f"before: `/api/search` {kind} req/s, 8 clients, {mode} (p50 / p95 ms)",
                    lambda s, m=mode, n=f"before {kind}": _load(_eight(s, m, n)),
                )
            )
    rows += [
        ("errors, before", lambda s: _errors(s, "before")),
        ("before: server memory, MB (PSS)", lambda s: f"{s['before']['rss_mb']:,.0f}"),
    ]
    return rows


BASELINE_ROWS = baseline_rows()


def figures_table(report: dict) -> str:
    sizes = report["sizes"]
    rows = ROWS + (BASELINE_ROWS if all("before" in s for s in sizes) else [])
    lines = [
        "| | " + " | ".join(f"{s['scale']:g}×" for s in sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    lines += [
        f"| {label} | " + " | ".join(render(s) for s in sizes) + " |" for label, render in rows
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


def build_profile_table(report: dict) -> str:
    """The build's work per item by area, and the build it makes at best on the run's cores."""
    sizes, cores = report["sizes"], report["machine"]["cores"]
    heads = [f"{s['scale']:g}×" for s in sizes]
    lines = [
        "| ms per item | " + " | ".join(heads) + " |",
        "| --- | " + " | ".join("---:" for _ in heads) + " |",
    ]
    for area in BUILD_AREAS:
        cells = [
            f"{s['build_profile']['areas'][area] * s['build_profile']['ms_per_item']:.2f}"
            for s in sizes
        ]
        lines.append(f"| {area} | " + " | ".join(cells) + " |")
    rows = (
        ("all of it (sample timed without the profiler)", lambda s, ms: f"{ms:.2f}"),
        ("every item in one process, s", lambda s, ms: _number(s["items"] * ms / 1000)),
        (
            f"every item spread over {cores} cores without loss, s",
            lambda s, ms: _number(s["items"] * ms / 1000 / cores),
        ),
        ("the build as measured, s", lambda s, ms: _number(s["build_s"])),
    )
    for name, cell in rows:
        cells = [cell(s, s["build_profile"]["ms_per_item"]) for s in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: dict) -> list[tuple[str, bool, str]]:
    """Return (target, met, figure) for each target of the issues at the sizes that were run."""
    checks = []
    for s in report["sizes"]:
        label = f"{s['scale']:g}×"
        one, eight = ours_all(s), _eight(s, KEEP_ALIVE, "ours keyword")
        health = s["one"][KEEP_ALIVE]["healthz"]
        p95 = ms(s["fn_warm"], 95)
        if s["scale"] == 1:
            api50, health50 = one.percentile(50), health.percentile(50)
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
                    one.percentile(95) <= 15,
                    f"{one.percentile(95):.1f} ms",
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
                    f"{label}: server memory ≤ 400 MB",
                    s["server_rss_mb"] <= 400,
                    f"{s['server_rss_mb']:.0f} MB",
                ),
            ]
        if s["scale"] == 1000:
            checks += [
                (f"{label}: the build completes", s["items"] > 0, f"{s['items']:,} items"),
                (f"{label}: build ≤ 3 min", s["build_s"] <= 180, f"{s['build_s']:.0f} s"),
                (
                    f"{label}: server memory ≤ 1 GB",
                    s["server_rss_mb"] <= 1024,
                    f"{s['server_rss_mb']:,.0f} MB",
                ),
            ]
        checks += against_groonga(s, label)
        everything = results(s, "ours") + results(s, "groonga") + results(s, "before")
        errors = sum(r.errors for r in everything)
        checks.append((f"{label}: zero HTTP errors", errors == 0, f"{errors} errors"))
    return checks


def against_groonga(s: dict, label: str) -> list[tuple[str, bool, str]]:
    """The performance issue's targets: ahead of Groonga up to 100×, close behind at 1000×."""
    checks = []
    for kind in HTTP_KINDS:
        for mode in MODES:
            ours, theirs = _one(s, mode, f"ours {kind}"), _one(s, mode, f"groonga {kind}")
            many, their_many = _eight(s, mode, f"ours {kind}"), _eight(s, mode, f"groonga {kind}")
            if None in (ours, theirs, many, their_many):
                continue
            name = f"{label}: {kind}, {mode}:"
            ours50, ours95 = ours.percentile(50), ours.percentile(95)
            their50, their95 = theirs.percentile(50), theirs.percentile(95)
            if s["scale"] <= 100:
                checks += [
                    (
                        f"{name} `/api/search` p50 and p95 ≤ Groonga's (1 client)",
                        ours50 <= their50 and ours95 <= their95,
                        f"{ours50:.1f} / {ours95:.1f} ms vs {their50:.1f} / {their95:.1f} ms",
                    ),
                    (
                        f"{name} throughput ≥ Groonga's (8 clients)",
                        many.throughput >= their_many.throughput,
                        f"{many.throughput:,.0f} vs {their_many.throughput:,.0f} req/s",
                    ),
                ]
            elif s["scale"] >= 1000:
                checks += [
                    (f"{name} `/api/search` p95 ≤ 100 ms", ours95 <= 100, f"{ours95:.0f} ms"),
                    (
                        f"{name} throughput ≥ half of Groonga's (8 clients)",
                        many.throughput >= their_many.throughput / 2,
                        f"{many.throughput:,.0f} vs {their_many.throughput:,.0f} req/s",
                    ),
                ]
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
        "",
        "Where the build's time goes: the first "
        f"{max(s['build_profile']['sample'] for s in report['sizes'])} items of each corpus "
        "(all of a smaller one) indexed in one process (analysis, postings, vocabulary, the "
        "segment written), timed, then under cProfile for the shares:",
        "",
        build_profile_table(report),
    ]
    for size in report["sizes"]:
        for result in results(size, "ours") + results(size, "groonga") + results(size, "before"):
            lines += [f"Error at {size['scale']:g}×: {problem}" for problem in result.problems]
    if report.get("baseline"):
        lines += ["", f"Before: the server of {report['baseline']}, in the same rounds as ours."]
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
        size = {k: v for k, v in s.items() if k not in (*lists, "one", "eight", "zipf")}
        for key in lists:
            size[key] = {f"p{p}_ms": ms(s[key], p) for p in (50, 95, 99)}
            size[key]["median_ms"] = median(s[key]) * 1000
        for key in ("one", "eight"):
            size[key] = {
                mode: {name: summary(r) for name, r in table.items()}
                for mode, table in s[key].items()
            }
        size["zipf"] = {name: summary(r) for name, r in s.get("zipf", {}).items()}
        sizes.append(size)
    return {**report, "sizes": sizes}
