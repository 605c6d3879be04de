"""Build the index into a fresh directory and swap it in atomically.

The index path (``index/`` by default) is a symbolic link to a generation directory beside it
(``.index-<timestamp>``). A build writes a new generation, checks it, then replaces the link in
one ``rename``: readers see the old index or the new one, never a mix, and a build that fails or
is killed leaves the link, and so the index in use, untouched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from whoosh import index as whoosh_index

from indexer.corpus import PolicyItem, load_corpus
from indexer.schema import policy_schema
from indexer.synonym_dictionary import DictionaryError
from indexer.synonyms import SYNONYMS_FILE, synonym_file

# Parallel indexing pays from a few thousand items (the seed has 475); each process takes
# documents in batches of BATCH and holds up to WRITER_MB of postings before spilling to disk.
PARALLEL_FROM = 2000
MAX_PROCS = 8
BATCH = 250
WRITER_MB = 256


class BuildError(Exception):
    """The index could not be built or swapped in; the message says why."""


@dataclass(frozen=True)
class BuildSummary:
    index_dir: Path
    generation: Path
    items: int
    per_department: dict[str, int]
    seconds: float


def generation_prefix(index_dir: Path) -> str:
    return f".{index_dir.name}-"


@contextmanager
def build_lock(index_dir: Path, wait: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock for building `index_dir`; wait up to `wait` seconds for it."""
    lock_path = index_dir.parent / f".{index_dir.name}.lock"
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BuildError(
                        f"another build of {index_dir} is still running (lock {lock_path})"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(
    corpus_dir: Path | str,
    index_dir: Path | str,
    progress: Callable[[int, int], None] | None = None,
    lock_wait: float = 120.0,
) -> BuildSummary:
    """Parse the corpus, index it into a new generation and make it the index in use."""
    started = time.perf_counter()
    index_dir = Path(index_dir).absolute()
    items = load_corpus(corpus_dir)  # parse everything before touching the index
    try:
        synonyms = synonym_file(corpus_dir, items)
    except DictionaryError as error:
        raise BuildError(f"synonym dictionary unusable: {error}") from None
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir, lock_wait):
        generation = _new_generation(index_dir)
        try:
            _write_index(generation, items, progress)
            (generation / SYNONYMS_FILE).write_text(json.dumps(synonyms, ensure_ascii=False))
            previous = _swap_in(index_dir, generation)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        _remove_old_generations(index_dir, keep={generation, previous})
    return BuildSummary(
        index_dir=index_dir,
        generation=generation,
        items=len(items),
        per_department=dict(Counter(item.department for item in items)),
        seconds=time.perf_counter() - started,
    )


def _new_generation(index_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    generation = index_dir.parent / f"{generation_prefix(index_dir)}{stamp}-{os.getpid()}"
    generation.mkdir()
    return generation


def _write_index(
    generation: Path, items: list[PolicyItem], progress: Callable[[int, int], None] | None
) -> None:
    ix = whoosh_index.create_in(str(generation), policy_schema())
    writer = _writer(ix, len(items))
    try:
        for number, item in enumerate(items, 1):
            writer.add_document(**asdict(item), reading=item.text, exact=item.text)
            if progress:
                progress(number, len(items))
    except BaseException:
        for task in getattr(writer, "tasks", ()):  # sub-processes of a parallel writer
            task.terminate()
            task.join()
        writer.cancel()
        raise
    writer.commit()
    with ix.searcher() as searcher:
        if searcher.doc_count() != len(items):
            raise BuildError(f"index holds {searcher.doc_count()} items, expected {len(items)}")


def _writer(ix: whoosh_index.Index, items: int):
    """Return a writer that analyses in one process per core when the corpus is large enough.

    Each process writes its own segment (no merge afterwards); a small corpus is written in
    this process, where starting the others would cost more than it saves.
    """
    procs = min(len(os.sched_getaffinity(0)), MAX_PROCS)
    if procs < 2 or items < PARALLEL_FROM:
        return ix.writer(limitmb=WRITER_MB)
    return ix.writer(procs=procs, multisegment=True, batchsize=BATCH, limitmb=WRITER_MB)


def _swap_in(index_dir: Path, generation: Path) -> Path | None:
    """Point the index link at `generation`; return the generation it pointed at before."""
    previous = index_dir.resolve() if index_dir.is_symlink() else None
    if index_dir.exists() and not index_dir.is_symlink():
        previous = _move_aside_plain_directory(index_dir)
    link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(generation.name)
    os.replace(link, index_dir)
    return previous


def _move_aside_plain_directory(index_dir: Path) -> Path:
    """Move a plain directory out of the way once, refusing to touch one that is not an index."""
    if any(index_dir.iterdir()) and not whoosh_index.exists_in(str(index_dir)):
        raise BuildError(
            f"{index_dir} is a directory that holds something other than an index; "
            "move it away or choose another --index"
        )
    aside = index_dir.parent / f"{generation_prefix(index_dir)}old-{os.getpid()}"
    index_dir.rename(aside)
    return aside


def _generations(index_dir: Path) -> list[Path]:
    return [p for p in index_dir.parent.glob(f"{generation_prefix(index_dir)}*") if p.is_dir()]


def _remove_old_generations(index_dir: Path, keep: set[Path | None]) -> None:
    """Delete generations but the new one and the one before it (a server may still read it)."""
    for generation in _generations(index_dir):
        if generation not in keep:
            shutil.rmtree(generation, ignore_errors=True)
