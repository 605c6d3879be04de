"""Every fast path gives what the plain path gives: hits, scores, highlights, counts.

The plain path matches and scores through Whoosh's own matchers (`PolicyIndex(arrays=False)`);
the fast path over numpy arrays (indexer/arrays.py). Every query of both judged sets, as the
page asks it (first page, a later page, under a filter, every word required).
"""

from __future__ import annotations

import dataclasses

import pytest

from indexer.relevance import load_graded, load_judgments
from indexer.search import PolicyIndex
from tests.conftest import ROOT

RELEVANCE = ROOT / "tests" / "relevance"
QUERIES = list(
    dict.fromkeys(
        [j.query for j in load_judgments(RELEVANCE / "queries.toml")]
        + [j.query for j in load_graded(RELEVANCE / "natural.toml")]
    )
)


@pytest.fixture(scope="module")
def both(seed_index_dir):
    return PolicyIndex(seed_index_dir), PolicyIndex(seed_index_dir, arrays=False)


def comparable(result) -> dict:
    """The result as plain data, with each score to 12 significant digits."""
    data = dataclasses.asdict(result)
    for hit in data["hits"]:
        if hit["score"] is not None:
            hit["score"] = float(f"{hit['score']:.12g}")
    return data


def test_the_arrays_and_whooshs_matchers_give_the_same_results(both):
    fast, plain = both
    assert fast.current().arrays and not plain.current().arrays
    departments = fast.facet_values("department")
    compared = 0
    for query in QUERIES:
        for options in (
            {},
            {"page": 2, "per_page": 5},
            {"departments": departments[5:7]},
            {"match": "all"},
        ):
            expected = comparable(plain.search(query, **options))
            assert comparable(fast.search(query, **options)) == expected, (query, options)
            compared += bool(expected["hits"])
    assert compared > 3 * len(QUERIES)
