"""Command line: build the index, search it, export the parsed items."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from indexer.build import BuildError, build_index
from indexer.corpus import CorpusError, load_corpus
from indexer.search import PolicyIndex, UnknownFilter
from indexer.snapshot import IndexUnavailable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "corpus"
DEFAULT_INDEX = ROOT / "index"
EXPORT_FIELDS = [
    "id",
    "document",
    "fiscal_year",
    "department_no",
    "department",
    "category",
    "column",
    "position",
    "order",
    "text",
]

corpus_option = click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CORPUS,
    show_default=True,
    help="Folder holding manifest.toml and the documents it lists.",
)
index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_INDEX,
    show_default=True,
    help="Index location (a link to the generation in use).",
)


@click.group()
def cli() -> None:
    """Index and search Itabashi City's policy documents."""


@cli.command()
@corpus_option
@index_option
def build(corpus_dir: Path, index_dir: Path) -> None:
    """Rebuild the index from the corpus and swap it in atomically."""
    with click.progressbar(length=1, label="indexing", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            summary = build_index(
                corpus_dir,
                index_dir,
                progress=progress,
                waiting=lambda notice: click.echo(f"\n{notice}", err=True),
            )
        except (CorpusError, BuildError) as error:
            raise click.ClickException(str(error)) from None
    for department, count in summary.per_department.items():
        click.echo(f"{count:5d}  {department}")
    click.echo(
        f"{summary.items} items from {len(summary.per_department)} departments indexed "
        f"into {summary.index_dir} in {summary.seconds:.2f} s"
    )


@cli.command()
@click.argument("query")
@click.option("--dept", "departments", multiple=True, help="Keep only this department.")
@click.option("--category", "categories", multiple=True, help="Keep only this category.")
@click.option("--column", "columns", multiple=True, help="Keep only this column.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--match",
    type=click.Choice(["any", "all"]),
    default="any",
    show_default=True,
    help="all: only the items holding every word; any: then those holding some.",
)
@click.option("--no-expand", is_flag=True, help="Do not search the synonyms of the words.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@index_option
def search(
    query, departments, categories, columns, limit, match, no_expand, as_json, index_dir
) -> None:
    """Search the index; print ranked hits and counts per department and category."""
    try:
        result = PolicyIndex(index_dir).search(
            query,
            departments,
            categories,
            columns,
            page=1,
            per_page=limit,
            match=match,
            expand=not no_expand,
        )
    except (IndexUnavailable, UnknownFilter) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        data = asdict(result)
        data["facets"] = {
            name: [{"value": f.value, "count": f.count} for f in values]
            for name, values in result.facets.items()
        }
        data["expansions"] = [{"word": e.word, "with": list(e.with_)} for e in result.expansions]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for line in describe(result):
        click.echo(line)
    partial_shown = False
    for rank, hit in enumerate(result.hits, 1):
        if hit.matched == "partial" and not partial_shown:
            partial_shown = True
            click.echo(f"\n---- 一部の語を含む項目 {result.total - result.total_all}件")
        score = "" if hit.score is None else f"  {hit.score:.2f}"
        click.echo(f"\n{rank}. [{hit.department} / {hit.category} / {hit.column}] {hit.id}{score}")
        click.echo(f"   {hit.highlight}")
        absent = [word for word in hit.missing if word not in hit.in_part]
        if absent:
            click.echo(f"   含まない語: {'、'.join(absent)}")
        if hit.in_part:
            click.echo(f"   一部だけ含む語: {'、'.join(hit.in_part)}")
    for name in ("department", "category"):
        counts = [f"{f.value} {f.count}" for f in result.facets[name] if f.count]
        click.echo(f"\n{name}: " + (", ".join(counts) or "-"))


def describe(result) -> list[str]:
    """Return the lines that say what a search did: counts, words, expansions, words dropped."""
    if result.unsearchable:
        return ["0 items: the query holds no word to search for (only particles or symbols)"]
    lines = [f"{result.total} items"]
    if result.graded and result.total != result.total_all:
        lines[0] += f" ({result.total_all} with every word: すべての語を含む項目)"
    if len(result.words) > 1:
        lines.append("words: " + "、".join(result.words))
    lines += [f"{e.word} → {'、'.join(e.with_)} なども検索" for e in result.expansions]
    if result.dropped:
        lines.append("not searched (too many words): " + "、".join(result.dropped))
    return lines


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@corpus_option
def export(fmt: str, corpus_dir: Path) -> None:
    """Print the parsed items, one record per item, as JSON lines or CSV."""
    try:
        items = load_corpus(corpus_dir)
    except CorpusError as error:
        raise click.ClickException(str(error)) from None
    out = sys.stdout
    if fmt == "jsonl":
        for item in items:
            record = {name: getattr(item, name) for name in EXPORT_FIELDS}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({name: getattr(item, name) for name in EXPORT_FIELDS})
