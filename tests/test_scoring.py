"""Our scoring loop and in-memory field lengths give exactly the scores of Whoosh's own search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.query import AndNot, Phrase, Require, Term

from bench.performance import QUERIES
from indexer import build
from indexer.arrays import POSITION_BITS, ArrayMatcher, _keep, _keys_of, intersect_sorted
from indexer.relevance import load_graded, load_judgments
from indexer.schema import SCORED_FIELDS
from indexer.scoring import InMemoryLengthsBM25F, Scored, score_matches
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


def graded_and_literal_queries(snapshot, texts):
    """Yield every Whoosh query the search runs for `texts`: graded forms, literal queries."""
    for text in texts:
        understood = snapshot.understood(text)
        if understood.graded:
            graded = snapshot.graded(understood.words, understood.phrases)
            yield text, graded.query
            if graded.core_query is not None:
                yield text, graded.core_query
        elif not understood.is_empty and not understood.browses:
            query = snapshot.whoosh(understood.literal)
            yield text, query.a if isinstance(query, AndNot | Require) else query


NATURAL = [q.query for q in load_graded(ROOT / "tests" / "relevance" / "natural.toml")]


def test_array_scores_are_whooshs(index_dir):
    """Same matches; each term's score bit for bit, a sum of several to the last bit or two."""
    snapshot = PolicyIndex(index_dir, arrays=False).current()
    arrays = ArrayMatcher(snapshot.searcher)
    compared = 0
    for text, query in graded_and_literal_queries(snapshot, [*TEXTS, *NATURAL]):
        expected = score_matches(snapshot.searcher, query)
        found = arrays.scores(query)
        assert list(found) == sorted(expected), text
        for docnum, score in expected.items():
            assert found[docnum] == pytest.approx(score, rel=1e-12, abs=0), text
        if isinstance(query, Term):
            assert found == expected, text
        compared += bool(expected)
    assert compared > 300


def test_array_phrases_match_what_whooshs_match(seed_index_dir):
    snapshot = PolicyIndex(seed_index_dir, arrays=False).current()
    arrays = ArrayMatcher(snapshot.searcher)
    phrases = [
        Phrase(field, words)
        for field, words in [
            ("text", ["個人", "情報", "保護"]), ("text", ["情報", "個人"]),
            ("exact", ["の", "推進"]), ("exact", ["子育て", "支援"]),
            ("text", ["推進", "推進"]), ("text", ["区", "の"]),
        ]
    ]  # fmt: skip
    for phrase in phrases:
        assert arrays.docs(phrase) == set(snapshot.searcher.docs_for_query(phrase)), phrase
    assert arrays.docs(phrases[0]) and arrays.docs(phrases[3])


def test_the_postings_arrays_stay_within_their_budget(seed_index_dir, monkeypatch):
    snapshot = PolicyIndex(seed_index_dir).current()
    monkeypatch.setattr("indexer.arrays.POSTINGS_BUDGET", 4096)
    arrays = ArrayMatcher(snapshot.searcher)
    expected = {}
    for text, query in graded_and_literal_queries(snapshot, TEXTS[:40]):
        expected[text] = score_matches(snapshot.searcher, query)
        assert arrays.scores(query) == pytest.approx(expected[text], rel=1e-12), text
        kept = sum(a.nbytes for arrays_ in arrays._postings.values() for a in arrays_)
        assert arrays._postings.bytes == kept and (kept <= 4096 or len(arrays._postings) == 1)
    assert len(arrays._postings) > 1  # bounded, not emptied


sorted_ids = st.sets(st.integers(0, 300), max_size=60).map(
    lambda ids: np.array(sorted(ids), dtype=np.int64)
)


@given(sorted_ids, sorted_ids)
def test_the_sorted_set_operations_equal_numpys(a, b):
    assert intersect_sorted(a, b).tolist() == np.intersect1d(a, b).tolist()
    scored = Scored(a, a * 0.5)
    for inside in (True, False):
        kept = _keep(scored, b, inside)
        expected = a[np.isin(a, b, invert=not inside)]
        assert kept.ids.tolist() == expected.tolist()
        assert kept.scores.tolist() == (expected * 0.5).tolist()


@given(st.sets(st.tuples(st.integers(0, 40), st.integers(0, 30)), max_size=80), sorted_ids)
def test_the_keys_of_some_items_are_those_a_mask_keeps(occurrences, docs):
    keys = np.array(sorted(d << POSITION_BITS | p for d, p in occurrences), dtype=np.int64)
    docs = docs[docs <= 45]
    expected = keys[np.isin(keys >> POSITION_BITS, docs)]
    assert _keys_of(keys, docs).tolist() == expected.tolist()
