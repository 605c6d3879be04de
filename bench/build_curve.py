"""How the build's work per item grows with the items one writer process holds.

``python -m bench.build_curve [--scale 1000] [--items 1000,30000,121000] [--pool-mb 1024,8192]``
writes a synthetic corpus of `--scale` times the seed, then indexes its first N items in this
process for each N and each writer pool (the MB of postings Whoosh holds before it spills a
sorted run to disk and merges the runs at the end), and prints the seconds and ms per item.
The full build gives each writer process its share of the items (at 1000× on 2 cores, 242,000),
which a benchmark's sample of 1,000 does not show.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click

from bench.performance import CORPUS
from bench.synthetic import write_synthetic_corpus
from indexer.build import WRITER_MB, index_in_process
from indexer.corpus import load_corpus


def numbers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"takes whole numbers like 1000,30000, not {text!r}") from None
    if not values or min(values) <= 0:
        raise click.BadParameter("needs at least one number above 0")
    return values


@click.command()
@click.option("--scale", default=1000.0, show_default=True, help="Corpus size, times the seed.")
@click.option("--items", default="1000,30000,121000,242000", show_default=True)
@click.option("--pool-mb", default=str(WRITER_MB), show_default=True)
def main(scale: float, items: str, pool_mb: str) -> None:
    """Time one process's build of the first N items of a synthetic corpus, per N and pool."""
    counts, pools = numbers(items), numbers(pool_mb)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = write_synthetic_corpus(CORPUS, Path(scratch) / "corpus", scale).path
        loaded = load_corpus(corpus)
        click.echo(f"{len(loaded):,} items at {scale:g}×; one process, each build fresh")
        click.echo("\n| items | writer pool, MB | s | ms per item |\n| ---: | ---: | ---: | ---: |")
        for count in counts:
            for pool in pools:
                directory = Path(scratch) / "index"
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir()
                started = time.perf_counter()
                index_in_process(directory, loaded[:count], pool_mb=pool)
                seconds = time.perf_counter() - started
                done = min(count, len(loaded))
                click.echo(f"| {done:,} | {pool:,} | {seconds:.1f} | {seconds * 1000 / done:.2f} |")


if __name__ == "__main__":
    main()
