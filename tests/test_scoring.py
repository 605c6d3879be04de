"""Our scoring loop and in-memory field lengths give exactly the scores of Whoosh's own search."""

from __future__ import annotations

import pytest
from whoosh import index as whoosh_index
from whoosh.query import AndNot, Require

from bench.performance import QUERIES
from indexer import build
from indexer.relevance import load_judgments
from indexer.schema import SCORED_FIELDS
from indexer.scoring import InMemoryLengthsBM25F, score_matches
from indexer.search import PolicyIndex
from tests.conftest import CORPUS, ROOT

TEXTS = list(
    dict.fromkeys(
        [q.text for q in QUERIES if q.text]
        + [j.query for j in load_judgments(ROOT / "tests" / "relevance" / "queries.toml")]
    )
)


@pytest.fixture(scope="module")
def parallel_index_dir(tmp_path_factory):
    """The seed written by two writer processes: two segments, docnums offset in the second."""
    index_dir = tmp_path_factory.mktemp("parallel") / "index"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "PARALLEL_FROM", 100)
        build.build_index(CORPUS, index_dir)
    return index_dir


@pytest.fixture(params=["one segment", "two segments"])
def index_dir(request, seed_index_dir, parallel_index_dir):
    return seed_index_dir if request.param == "one segment" else parallel_index_dir


def whoosh_scores(searcher, query, allowed=None, excluded=None) -> dict[int, float]:
    results = searcher.search(query, limit=None, filter=allowed, mask=excluded)
    return {docnum: score for score, docnum in results.top_n}


def test_scores_are_whooshs_own_bit_for_bit(index_dir):
    snapshot = PolicyIndex(index_dir).current()
    ours = snapshot.searcher
    assert isinstance(ours.weighting, InMemoryLengthsBM25F)
    with whoosh_index.open_dir(index_dir).searcher() as theirs:  # Whoosh's BM25F, its collector
        assert len(ours.leaf_searchers()) == len(theirs.leaf_searchers())
        every = set(range(theirs.doc_count_all()))
        some, others = set(range(0, len(every), 3)), set(range(1, len(every), 5))
        compared = 0
        for text in TEXTS:
            parsed, query = snapshot.analyse(text)
            if parsed.is_empty:
                continue
            if isinstance(query, AndNot):
                query = query.a
            if isinstance(query, Require):
                query = query.a
            expected = whoosh_scores(theirs, query)
            assert score_matches(ours, query) == expected, text
            assert list(score_matches(ours, query)) == sorted(expected), text
            assert score_matches(ours, query, allowed=some) == whoosh_scores(
                theirs, query, allowed=some
            ), text
            assert score_matches(ours, query, excluded=others) == whoosh_scores(
                theirs, query, excluded=others
            ), text
            compared += bool(expected)
    assert compared > 100


def test_field_lengths_are_read_up_front_per_segment(index_dir):
    searcher = PolicyIndex(index_dir).current().searcher
    lengths = searcher.weighting._lengths
    leaves = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
    assert set(lengths) == {(id(leaf), name) for leaf in leaves for name in SCORED_FIELDS}
    for leaf in leaves:
        text = lengths[(id(leaf), "text")]
        assert len(text) == leaf.doc_count_all()
        assert text == [leaf.doc_field_length(d, "text", 1) for d in range(len(text))]
