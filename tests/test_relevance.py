"""The judged relevance set: mean F1 and nDCG@10 of this engine must stay at 0.95 or above."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.relevance import evaluate, load_judgments, summary

JUDGMENTS = Path(__file__).resolve().parent / "relevance" / "queries.toml"
THRESHOLD = 0.95


def ranked_and_full(policy_index, query: str) -> tuple[list[str], int]:
    """Return the ranked ids and how many hold every word (F1 counts those; partials follow)."""
    hits = policy_index.search(query, per_page=100).hits
    full = [hit for hit in hits if hit.matched == "all"]
    assert hits[: len(full)] == full, query  # the items holding every word come first
    return [hit.id for hit in hits], len(full)


@pytest.fixture(scope="module")
def results(policy_index):
    judgments = load_judgments(JUDGMENTS)
    return evaluate(judgments, lambda q: ranked_and_full(policy_index, q))


def test_the_set_is_large_and_covers_every_kind(seed_items):
    judgments = load_judgments(JUDGMENTS)
    known = {item.id for item in seed_items}
    assert len(judgments) >= 80
    kinds = {j.kind for j in judgments}
    assert kinds >= {"literal", "subword", "width", "spacing", "variant", "reading",
                     "abbreviation", "precision", "proper_noun", "multiword", "phrase",
                     "operator", "known_item"}  # fmt: skip
    for judgment in judgments:
        assert judgment.relevant <= known, judgment.query
        assert judgment.first is None or judgment.first in judgment.relevant


def test_mean_f1_and_ndcg_overall(results):
    overall = summary(results)["overall"]
    assert overall.f1 >= THRESHOLD
    assert overall.ndcg10 >= THRESHOLD


def test_known_items_come_first(results):
    misses = [
        (judgment.query, ranked[:1])
        for judgment, _, ranked in results["known_item"]
        if ranked[:1] != [judgment.first]
    ]
    assert len(misses) <= 1, misses


def test_highlights_fall_on_the_original_characters_for_every_kind(policy_index):
    judgments = load_judgments(JUDGMENTS)
    for judgment in judgments:
        result = policy_index.search(judgment.query, per_page=100)
        for hit in result.hits:
            if judgment.kind in ("operator", "precision") or "-" in judgment.query:
                continue
            if hit.missing == list(result.words) and not hit.in_part:
                continue  # holds no word of the query, only the topic of the best items
            assert "<mark>" in hit.highlight, (judgment.query, hit.id)
            plain = hit.highlight.replace("<mark>", "").replace("</mark>", "")
            assert plain == hit.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
