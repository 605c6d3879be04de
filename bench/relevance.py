"""Run the judged relevance set through this engine and four peers built from the same items.

Every engine (bench/engines.py) gets the query strings exactly as typed in the judged set and
returns its whole ranked result list (all pages), so F1 is over everything it finds. A query an
engine fails on scores 0 and is counted.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import click

from bench.engines import ENGINES, Engine, EngineUnavailable
from indexer.corpus import load_corpus
from indexer.relevance import Judgment, Score, f1, load_judgments, ndcg_at_10, summary

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
JUDGMENTS = ROOT / "tests" / "relevance" / "queries.toml"


def run_benchmark(
    corpus_dir: Path | str = CORPUS,
    judgments_path: Path | str = JUDGMENTS,
    engines: Iterable[str] | None = None,
) -> dict:
    """Build every engine from the corpus, run the judged set through each and score it."""
    corpus_dir = Path(corpus_dir)
    judgments = load_judgments(judgments_path)
    items = load_corpus(corpus_dir)
    kinds = list(dict.fromkeys(j.kind for j in judgments))
    counts = {kind: sum(j.kind == kind for j in judgments) for kind in kinds}
    report: dict = {
        "queries": len(judgments),
        "items": len(items),
        "kinds": [*kinds, "overall"],
        "counts": {**counts, "overall": len(judgments)},
        "engines": [],
        "scores": {},
        "errors": {},
        "error_queries": {},
        "skipped": {},
        "ranked": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp, ExitStack() as stack:
        for number, name in enumerate(engines or ENGINES):
            workdir = Path(tmp) / str(number)
            workdir.mkdir()
            try:
                engine = ENGINES[name](items, corpus_dir, workdir)
            except EngineUnavailable as error:
                report["skipped"][name] = str(error)
                continue
            stack.callback(engine.close)
            _score_engine(report, engine, judgments, kinds)
    report["best"] = {
        kind: _best({name: report["scores"][name][kind] for name in report["engines"]})
        for kind in report["kinds"]
    }
    return report


def _score_engine(report: dict, engine: Engine, judgments: list[Judgment], kinds: list) -> None:
    results: dict[str, list] = {kind: [] for kind in kinds}
    ranked_by_query, failed = {}, {}
    for judgment in judgments:
        try:
            ranked = engine.search(judgment.query)
            score = Score(f1(ranked, judgment.relevant), ndcg_at_10(ranked, judgment))
        except Exception as error:  # a peer failing on a query scores 0 for it
            ranked, score = [], Score(0.0, 0.0)
            failed[judgment.query] = f"{error.__class__.__name__}: {error}"
        ranked_by_query[judgment.query] = ranked
        results[judgment.kind].append((judgment, score, ranked))
    table = summary(results)
    report["engines"].append(engine.name)
    report["scores"][engine.name] = {
        k: {"f1": table[k].f1, "ndcg10": table[k].ndcg10} for k in report["kinds"]
    }
    report["errors"][engine.name] = len(failed)
    report["error_queries"][engine.name] = failed
    report["ranked"][engine.name] = ranked_by_query


def _best(scores: dict[str, dict]) -> list[str]:
    """Return the engines with the highest mean of F1 and nDCG@10 (rounded as printed)."""

    def key(name: str) -> float:
        return round(scores[name]["f1"], 2) + round(scores[name]["ndcg10"], 2)

    top = max(map(key, scores), default=None)
    return [name for name in scores if key(name) == top]


def markdown_table(report: dict) -> str:
    """Render mean F1 / nDCG@10 per kind and engine, the best engine per kind, and errors."""
    engines, scores = report["engines"], report["scores"]
    lines = [
        "| kind | queries | " + " | ".join(engines) + " | best |",
        "| --- | ---: | " + " | ".join("---:" for _ in engines) + " | --- |",
    ]
    for kind in report["kinds"]:
        label = f"**{kind}**" if kind == "overall" else kind
        cells = [f"{scores[name][kind]['f1']:.2f} / {scores[name][kind]['ndcg10']:.2f}"
                 for name in engines]  # fmt: skip
        row = [label, str(report["counts"][kind]), *cells, ", ".join(report["best"][kind])]
        lines.append("| " + " | ".join(row) + " |")
    errors = ", ".join(f"{name} {report['errors'][name]}" for name in engines)
    lines += [
        "",
        f"Cells are mean F1 / mean nDCG@10; {report['queries']} judged queries over "
        f"{report['items']} items; best = highest F1 + nDCG@10 as printed.",
        f"Errors (queries scored 0): {errors}.",
        *(f"Skipped {name}: {reason}." for name, reason in report["skipped"].items()),
    ]
    return "\n".join(lines)


@click.command()
@click.option(
    "--judgments",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=JUDGMENTS,
    show_default=True,
    help="The judged query set (TOML).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=CORPUS,
    show_default=True,
    help="The corpus directory.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Print a markdown table or the scores as JSON.",
)
@click.option(
    "--engine",
    "engines",
    multiple=True,
    type=click.Choice(list(ENGINES)),
    help="Run only this engine (repeatable); all by default.",
)
def main(judgments: Path, corpus: Path, output: str, engines: tuple[str, ...]) -> None:
    """Compare judged relevance (mean F1 and nDCG@10 per kind) of this engine and its peers."""
    report = run_benchmark(corpus, judgments, engines or None)
    for name, reason in report["skipped"].items():
        click.echo(f"note: skipping {name}: {reason}", err=True)
    if output == "json":
        public = {k: v for k, v in report.items() if k != "ranked"}
        click.echo(json.dumps(public, ensure_ascii=False, indent=2))
    else:
        click.echo(markdown_table(report))


if __name__ == "__main__":
    main()
