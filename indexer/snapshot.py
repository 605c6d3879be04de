"""An open index at one moment: its searcher and what is read from it once, kept together.

A rebuild swaps a new index in by replacing a symbolic link; `PolicyIndex` (indexer/search.py)
opens a new snapshot when the link has changed and searches the one it holds until then. A
snapshot reads its own copy of the index's files (indexer/storage.py), so a file damaged on disk
changes nothing it answers; it says so once in the log, and a rebuild brings a new generation.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.query import Query
from whoosh.searching import Searcher

from indexer.arrays import ArrayMatcher
from indexer.feedback import topic_similarity, topic_terms
from indexer.graded import Graded, match_words
from indexer.lexicon import Lexicon, build_lexicon
from indexer.lru import BytesLRU
from indexer.names import NameFinder
from indexer.query import (
    ParsedQuery,
    Word,
    analyse_word,
    dictionary_map,
    parse_query,
    synonym_map,
    to_whoosh,
)
from indexer.schema import FACETS, SCORED_FIELDS
from indexer.scoring import InMemoryLengthsBM25F, Matching, WhooshMatching
from indexer.storage import CopyingStorage, DiskWatch, file_states
from indexer.synonyms import SYNONYMS_FILE
from indexer.understand import QueryWord, Understood, understand
from indexer.vectors import Neighbours, Vectors
from indexer.vocabulary import snapshot_vocabulary

PARSED_CACHE_SIZE = 1024
GRADED_CACHE_SIZE = 64
GRADED_BUDGET = 256 * 2**20  # bytes of graded matches: 53 took 14 MB at 100x, 138 MB at 1000x
TOPIC_BUDGET = 64 * 2**20  # bytes of topics: 15 took 3 MB at 100x, 26 MB at 1000x
STORED_CACHE_SIZE = 4096

log = logging.getLogger(__name__)


class IndexUnavailable(Exception):
    """There is no usable index at the given path; the message says how to make one."""


@dataclass
class Snapshot:
    """A searcher and the columns read from it, replaced whole when the index changes."""

    target: str
    searcher: Searcher
    columns: dict[str, list]
    values: dict[str, list[str]]  # every facet's values, in document order
    by_id: dict[str, int]
    synonyms: dict[str, list[Word]]
    related: dict[str, list[Word]]  # Sudachi's synonym dictionary: trigger → words it leads to
    near: dict[str, list[Word]]  # the corpus's curated near concepts
    in_order: list[int] = field(default_factory=list)  # every docnum, in document order
    totals: dict[str, Counter] = field(default_factory=dict)  # facet counts over every item
    link: str | None = None  # what the index link said when it was opened
    disk: DiskWatch | None = None  # the files it read, as they were then
    arrays: bool = True  # match and score over numpy arrays (False: Whoosh's matchers)
    vectors: Vectors | None = None  # word vectors for the words no item holds (None: none)
    _lexicon: Lexicon | None = None
    _neighbours: Neighbours | None = None

    def __post_init__(self) -> None:
        # Whoosh reads postings and stored fields through shared file objects (seek, then read):
        # two threads reading at once get each other's bytes. One reader at a time per snapshot;
        # the searches hold the GIL for nearly all their time anyway.
        self.reading = threading.RLock()
        # The columns as arrays, for the graded ranking: each facet as its value's number.
        self.order = np.asarray(self.columns["order"], dtype=np.int64)
        self.in_order_array = np.asarray(self.in_order, dtype=np.int64)
        self.codes = {name: _codes(self.columns[name], self.values[name]) for name in FACETS}
        self.matching: Matching = (
            ArrayMatcher(self.searcher) if self.arrays else WhooshMatching(self.searcher)
        )
        # Queries come back (the page, then the next page, then a facet): analyse each once, and
        # keep the stored fields of the items last shown. Both live and die with the snapshot.
        analyse = partial(analyse_query, synonyms=self.synonyms)
        self.analyse: Callable[..., tuple[ParsedQuery, Query]] = lru_cache(
            maxsize=PARSED_CACHE_SIZE
        )(analyse)
        self.whoosh: Callable[[ParsedQuery], Query] = lru_cache(maxsize=PARSED_CACHE_SIZE)(
            to_whoosh
        )
        self.names = NameFinder(self.values)
        self.understood: Callable[..., Understood] = lru_cache(maxsize=PARSED_CACHE_SIZE)(
            lambda query, expand=True, names=True: understand(
                query,
                self.synonyms if expand else None,
                self.lexicon,
                self.names if names else None,
                self.related if expand else None,
                self.near if expand else None,
                self.guess if expand and self.vectors is not None else None,
            )
        )
        # Which items hold which words: the next page and the facet links ask again.
        self._graded: BytesLRU[Graded] = BytesLRU(GRADED_BUDGET, Graded.nbytes, GRADED_CACHE_SIZE)
        self.stored = lru_cache(maxsize=STORED_CACHE_SIZE)(self.searcher.stored_fields)
        self._topics: BytesLRU[tuple] = BytesLRU(TOPIC_BUDGET, _topic_bytes, GRADED_CACHE_SIZE)

    def graded(self, words: tuple[QueryWord, ...], phrases: tuple) -> Graded:
        """Return which items hold which of `words`, kept for the next page and facet links."""
        key = (words, phrases)
        return self._graded.get(key, lambda: match_words(self.matching, words, phrases))

    def topic(
        self, seeds: tuple[int, ...], known: frozenset[str]
    ) -> tuple[dict[int, float], tuple[str, ...]]:
        """Return every item's similarity to the `seeds` items' topic, and its terms (kept)."""
        return self._topics.get((seeds, known), lambda: self._topic(seeds, known))

    def _topic(
        self, seeds: tuple[int, ...], known: frozenset[str]
    ) -> tuple[dict[int, float], tuple[str, ...]]:
        texts = [self.stored(d)["text"] for d in seeds]
        terms = topic_terms(self.searcher, texts, known)
        return topic_similarity(self.matching, terms), tuple(term for term, _ in terms)

    def look_at_disk(self) -> None:
        """Log once if the files it read have changed on disk since: it answers from its copy."""
        changes = self.disk.news() if self.disk else []
        if changes:
            log.warning(
                "the index files at %s changed on disk after they were read (%s): answering "
                "from the copy read then, as before; rebuild the index with "
                "`python -m indexer build` (said once by process %d)",
                self.target,
                "; ".join(changes),
                os.getpid(),
            )

    def lexicon(self) -> Lexicon:
        """Return the index's words by reading and its katakana words, built on first use."""
        if self._lexicon is None:
            self._lexicon = build_lexicon(snapshot_vocabulary(self))
        return self._lexicon

    def guess(self, word: Word, linked: tuple[Word, ...] = ()) -> tuple[Word, ...]:
        """Return the index's words nearest to a word it holds neither as typed nor `linked`."""
        if self._neighbours is None:
            self._neighbours = Neighbours.of_terms(self.vectors, snapshot_vocabulary(self).terms)
        neighbours = self._neighbours
        if any(neighbours.holds(other.key) for other in linked):
            return ()
        found = (analyse_word(text) for text in neighbours.guess(word.key, word.text))
        return tuple(w for w in found if w is not None)


def analyse_query(
    query: str, synonyms: dict[str, list[Word]], expand: bool = True
) -> tuple[ParsedQuery, Query]:
    parsed = parse_query(query, synonyms if expand else None)
    return parsed, to_whoosh(parsed)


def read_link(path: Path) -> str | None:
    """Return where the symbolic link `path` points, or None if it is no link."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def _read_synonyms(index_dir: str) -> tuple[dict, dict, dict]:
    """Return an index generation's synonyms: curated and mined, the dictionary's, near concepts.

    Each maps a word's key to `Word`s.
    """
    path = Path(index_dir) / SYNONYMS_FILE
    if not path.exists():
        return {}, {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):  # an index built before the dictionary
        return synonym_map(data), {}, {}
    return (
        synonym_map(data["groups"]),
        dictionary_map(data["dictionary"]),
        synonym_map(data.get("related", [])),
    )


def _topic_bytes(topic: tuple[dict[int, float], tuple[str, ...]]) -> int:
    return 120 * len(topic[0])  # a dict of Python ints and floats


def _codes(column: list, values: list[str]) -> np.ndarray:
    """Return each doc's value of a facet column as its number among `values`."""
    number = {value: n for n, value in enumerate(values)}
    return np.asarray([number[value] for value in column], dtype=np.int64)


def _read_column(reader, name: str) -> list:
    """Read a column into a list that holds one object per distinct value."""
    shared: dict = {}  # 50,000 items name 32 departments: not 50,000 strings
    return [shared.setdefault(value, value) for value in reader.column_reader(name)]


def _read_ids(reader) -> list[str]:
    """Read every item's id, from its column (or the stored fields of an older index)."""
    if reader.has_column("id"):
        return _read_column(reader, "id")
    return [reader.stored_fields(d)["id"] for d in range(reader.doc_count_all())]


def open_snapshot(index_dir: Path, arrays: bool = True, vectors: Vectors | None = None) -> Snapshot:
    """Open the index at `index_dir` (a directory or a link to one) and read its columns.

    `arrays` false matches and scores through Whoosh's own matchers (the plain path);
    `vectors` guess the words no item holds (indexer.vectors).
    """
    link = read_link(index_dir)
    target = os.path.realpath(index_dir)
    if not whoosh_index.exists_in(target):
        raise IndexUnavailable(f"no index at {index_dir}: build it with `python -m indexer build`")
    problem = None
    read = file_states(target)  # before the copies: a file changed while copying shows later
    # Whoosh leaves a file open when it fails to read a segment; close it quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            ix = whoosh_index.FileIndex(CopyingStorage(target, readonly=True))
            reader = ix.reader()
            weighting = InMemoryLengthsBM25F(reader, SCORED_FIELDS)
            searcher = Searcher(reader, fromindex=ix, weighting=weighting)
            columns = {name: _read_column(reader, name) for name in (*FACETS, "order")}
            ids = _read_ids(reader)
        except Exception as error:  # a damaged index can fail in many ways inside Whoosh
            problem = f"{error.__class__.__name__}: {error}"
        if problem:
            gc.collect()
    if problem:
        raise IndexUnavailable(
            f"the index at {index_dir} cannot be read ({problem}); "
            "rebuild it with `python -m indexer build`"
        )
    in_order = sorted(range(len(ids)), key=columns["order"].__getitem__)
    values = {name: list(dict.fromkeys(columns[name][d] for d in in_order)) for name in FACETS}
    by_id = {item_id: docnum for docnum, item_id in enumerate(ids)}
    totals = {name: Counter(columns[name]) for name in FACETS}
    synonyms, related, near = _read_synonyms(target)
    return Snapshot(
        target, searcher, columns, values, by_id, synonyms, related, near, in_order, totals, link,
        disk=DiskWatch(target, read), arrays=arrays, vectors=vectors,
    )  # fmt: skip
