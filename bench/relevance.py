"""Run the judged relevance sets through this engine and five peers built from the same items.

Two sets: the keyword set (`queries.toml`, binary judgments: mean F1 / nDCG@10) and the natural
set (`natural.toml`, queries as people type them, graded: nDCG@10 with gains 3 and 1, zero-result
rate, success@3). Every engine (bench/engines.py) is built once, gets the query strings exactly
as typed and returns its whole ranked result list (all pages). F1 counts the hits that hold every
word of the query (for this engine the full matches, listed before its partial ones; for the
peers all their hits); nDCG@10 the whole list. A query an engine fails on scores 0 and is counted.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from bench.engines import ENGINES, Engine, EngineUnavailable
from indexer.corpus import load_corpus
from indexer.relevance import (
    GradedJudgment,
    GradedScore,
    Judgment,
    Score,
    evaluate,
    evaluate_graded,
    graded_summary,
    load_graded,
    load_judgments,
    summary,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
JUDGMENTS = ROOT / "tests" / "relevance" / "queries.toml"
NATURAL = ROOT / "tests" / "relevance" / "natural.toml"
SETS = {"keyword": JUDGMENTS, "natural": NATURAL}


def run_benchmarks(
    corpus_dir: Path | str = CORPUS,
    sets: dict[str, Path | str] | None = None,
    engines: Iterable[str] | None = None,
) -> dict[str, dict]:
    """Build every engine once, run each judged set (`keyword`, `natural`) through it, score it."""
    corpus_dir = Path(corpus_dir)
    paths = {name: Path(path) for name, path in (sets or SETS).items()}
    items = load_corpus(corpus_dir)
    judged = {name: JUDGED_SETS[name].load(path) for name, path in paths.items()}
    reports = {name: _empty_report(judged[name], len(items), paths[name].name) for name in paths}
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp, ExitStack() as stack:
        for number, name in enumerate(engines or ENGINES):
            workdir = Path(tmp) / str(number)
            workdir.mkdir()
            try:
                engine = ENGINES[name](items, corpus_dir, workdir)
            except EngineUnavailable as error:
                for report in reports.values():
                    report["skipped"][name] = str(error)
                continue
            stack.callback(engine.close)
            for set_name, judgments in judged.items():
                JUDGED_SETS[set_name].score(reports[set_name], engine, judgments)
    for set_name, report in reports.items():
        best = JUDGED_SETS[set_name].best
        report["best"] = {
            kind: best({name: report["scores"][name][kind] for name in report["engines"]})
            for kind in report["kinds"]
        }
    return reports


def run_benchmark(
    corpus_dir: Path | str = CORPUS,
    judgments_path: Path | str = JUDGMENTS,
    engines: Iterable[str] | None = None,
) -> dict:
    """Build every engine from the corpus, run the keyword set through each and score it."""
    return run_benchmarks(corpus_dir, {"keyword": judgments_path}, engines)["keyword"]


def run_natural(
    corpus_dir: Path | str = CORPUS,
    natural_path: Path | str = NATURAL,
    engines: Iterable[str] | None = None,
) -> dict:
    """Build every engine from the corpus, run the natural set through each and score it."""
    return run_benchmarks(corpus_dir, {"natural": natural_path}, engines)["natural"]


def _empty_report(judgments: list, items: int, source: str) -> dict:
    kinds = list(dict.fromkeys(j.kind for j in judgments))
    counts = {kind: sum(j.kind == kind for j in judgments) for kind in kinds}
    return {
        "source": source,
        "queries": len(judgments),
        "items": items,
        "kinds": [*kinds, "overall"],
        "counts": {**counts, "overall": len(judgments)},
        "engines": [],
        "scores": {},
        "errors": {},
        "error_queries": {},
        "skipped": {},
        "ranked": {},
    }


def _guarded(run: Callable[[str], list | tuple], failed: dict[str, str]) -> Callable:
    """Wrap `run` so that a query it fails on answers nothing and is noted in `failed`."""

    def guarded(query: str) -> list | tuple:
        try:
            return run(query)
        except Exception as error:  # a peer failing on a query scores 0 for it
            failed[query] = f"{error.__class__.__name__}: {error}"
            return []

    return guarded


def _record(report: dict, name: str, results: dict, failed: dict, zero: Callable) -> dict:
    """Record an engine's answers; return its results, a query it failed on scoring `zero`."""
    results = {
        kind: [(j, zero(j) if j.query in failed else s, ranked) for j, s, ranked in rows]
        for kind, rows in results.items()
    }
    report["engines"].append(name)
    report["errors"][name] = len(failed)
    report["error_queries"][name] = failed
    report["ranked"][name] = {j.query: ranked for rows in results.values() for j, _, ranked in rows}
    return results


def score_keyword(report: dict, engine: Engine, judgments: list[Judgment]) -> None:
    """Score the keyword set: F1 over the full matches, nDCG@10 over the whole list."""
    failed: dict[str, str] = {}
    run = getattr(engine, "ranked_and_full", engine.search)
    results = evaluate(judgments, _guarded(run, failed))
    results = _record(report, engine.name, results, failed, lambda j: Score(0.0, 0.0))
    table = summary(results)
    report["scores"][engine.name] = {kind: asdict(table[kind]) for kind in report["kinds"]}


def score_natural(report: dict, engine: Engine, judgments: list[GradedJudgment]) -> None:
    """Score the natural set: graded nDCG@10, zero-result rate and success@3 of the whole list."""
    failed: dict[str, str] = {}
    results = evaluate_graded(judgments, _guarded(engine.search, failed))
    table = graded_summary(_record(report, engine.name, results, failed, _graded_zero))
    report["scores"][engine.name] = {
        kind: {
            "ndcg10": table[kind].ndcg10,
            "zero_result_rate": table[kind].zero_result_rate,
            "success3": table[kind].success3,
        }
        for kind in report["kinds"]
    }


def _graded_zero(judgment: GradedJudgment) -> GradedScore:
    """Return the score of a failed natural query: nothing found."""
    return GradedScore(0.0, bool(judgment.grades), False)


def _best(scores: dict[str, dict]) -> list[str]:
    """Return the engines with the highest F1 + nDCG@10 (rounded as printed)."""

    def key(name: str) -> float:
        return round(scores[name]["f1"], 2) + round(scores[name]["ndcg10"], 2)

    top = max(map(key, scores), default=None)
    return [name for name in scores if key(name) == top]


def _best_natural(scores: dict[str, dict]) -> list[str]:
    """Return the engines with the highest nDCG@10 (rounded as printed)."""
    top = max((round(s["ndcg10"], 2) for s in scores.values()), default=None)
    return [name for name, s in scores.items() if round(s["ndcg10"], 2) == top]


def _table(report: dict, cell: Callable[[dict], str]) -> list[str]:
    engines, scores = report["engines"], report["scores"]
    lines = [
        "| kind | queries | " + " | ".join(engines) + " | best |",
        "| --- | ---: | " + " | ".join("---:" for _ in engines) + " | --- |",
    ]
    for kind in report["kinds"]:
        label = f"**{kind}**" if kind == "overall" else kind
        cells = [cell(scores[name][kind]) for name in engines]
        row = [label, str(report["counts"][kind]), *cells, ", ".join(report["best"][kind])]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _footer(report: dict, command: str | None) -> list[str]:
    errors = ", ".join(f"{name} {report['errors'][name]}" for name in report["engines"])
    return [
        f"Errors (queries scored 0): {errors}.",
        *(f"Skipped {name}: {reason}." for name, reason in report["skipped"].items()),
        *([f"Command: `{command}`."] if command else []),
    ]


def markdown_table(report: dict, command: str | None = None) -> str:
    """Render mean F1 / nDCG@10 per kind and engine, the best engine per kind, and errors."""
    lines = _table(report, lambda s: f"{s['f1']:.2f} / {s['ndcg10']:.2f}")
    lines += [
        "",
        f"Cells are mean F1 (over the hits holding every word) / mean nDCG@10; "
        f"{report['queries']} judged queries over {report['items']} items; "
        "best = highest F1 + nDCG@10 as printed.",
        *_footer(report, command),
    ]
    return "\n".join(lines)


def natural_table(report: dict, command: str | None = None) -> str:
    """Render nDCG@10 / zero-result rate / success@3 per kind and engine, best by nDCG@10."""
    lines = _table(
        report,
        lambda s: f"{s['ndcg10']:.2f} / {s['zero_result_rate'] * 100:.0f} % / {s['success3']:.2f}",
    )
    lines += [
        "",
        "Cells are mean nDCG@10 (gains 3 on topic, 1 partly) / zero-result rate (nothing found "
        "where something is relevant) / success@3 (an on-topic item in the first three); "
        f"{report['queries']} graded queries over {report['items']} items, typed as people type "
        "them; best = highest nDCG@10 as printed.",
        *_footer(report, command),
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class JudgedSet:
    title: str
    load: Callable[[Path], list]
    score: Callable[[dict, Engine, list], None]
    best: Callable[[dict[str, dict]], list[str]]
    render: Callable[..., str]


JUDGED_SETS = {
    "keyword": JudgedSet("Keyword set", load_judgments, score_keyword, _best, markdown_table),
    "natural": JudgedSet("Natural set", load_graded, score_natural, _best_natural, natural_table),
}


def markdown_report(reports: dict[str, dict], command: str | None = None) -> str:
    """Render a section with its table for each judged set."""
    sections = []
    for name, report in reports.items():
        judged = JUDGED_SETS[name]
        title = f"## {judged.title} ({report['source']})"
        sections.append(f"{title}\n\n{judged.render(report, command)}")
    return "\n\n".join(sections)


def command_line(choice: str, engines: Iterable[str], paths: dict[str, Path]) -> str:
    """Return the command that reproduces a run (options at their defaults left out)."""
    defaults = {"--judgments": JUDGMENTS, "--natural": NATURAL, "--corpus": CORPUS}
    words = [".venv/bin/python", "-m", "bench.relevance"]
    if choice != "both":
        words += ["--set", choice]
    for option, path in paths.items():
        if path.resolve() != defaults[option]:
            words += [option, str(path)]
    for engine in engines:
        words += ["--engine", engine]
    return shlex.join(words)


def _path_option(name: str, default: Path, what: str, file: bool = True):
    return click.option(
        name,
        type=click.Path(exists=True, dir_okay=not file, file_okay=file, path_type=Path),
        default=default,
        show_default=True,
        help=what,
    )


@click.command()
@click.option(
    "--set",
    "choice",
    type=click.Choice(["keyword", "natural", "both"]),
    default="both",
    show_default=True,
    help="The judged set to run: keyword (F1 / nDCG@10), natural (graded) or both.",
)
@_path_option("--judgments", JUDGMENTS, "The keyword set (TOML).")
@_path_option("--natural", NATURAL, "The natural set, graded (TOML).")
@_path_option("--corpus", CORPUS, "The corpus directory.", file=False)
@click.option(
    "--format",
    "output",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Print markdown tables or the exact scores as JSON (one object per set).",
)
@click.option(
    "--engine",
    "engines",
    multiple=True,
    type=click.Choice(list(ENGINES)),
    help="Run only this engine (repeatable); all by default.",
)
def main(
    choice: str,
    judgments: Path,
    natural: Path,
    corpus: Path,
    output: str,
    engines: tuple[str, ...],
) -> None:
    """Compare judged relevance of this engine and its peers per kind of query.

    The keyword set gives mean F1 / nDCG@10, the natural set mean nDCG@10 / zero-result rate /
    success@3.
    """
    chosen = {"keyword": judgments, "natural": natural}
    sets = {name: path for name, path in chosen.items() if choice in (name, "both")}
    options = {"keyword": "--judgments", "natural": "--natural"}
    reports = run_benchmarks(corpus, sets, engines or None)
    skipped = next(iter(reports.values()))["skipped"]
    for name, reason in skipped.items():
        click.echo(f"note: skipping {name}: {reason}", err=True)
    if output == "json":
        public = {
            name: {k: v for k, v in report.items() if k != "ranked"}
            for name, report in reports.items()
        }
        click.echo(json.dumps(public, ensure_ascii=False, indent=2))
    else:
        paths = {options[name]: path for name, path in sets.items()} | {"--corpus": corpus}
        click.echo(markdown_report(reports, command_line(choice, engines, paths)))


if __name__ == "__main__":
    main()
