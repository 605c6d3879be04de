"""The judged relevance set: mean F1 and nDCG@10 of this engine must stay at 0.95 or above."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.engines import SubstringEngine, SudachiOrEngine
from indexer.relevance import (
    evaluate,
    evaluate_graded,
    graded_summary,
    load_graded,
    load_judgments,
    summary,
)

JUDGMENTS = Path(__file__).resolve().parent / "relevance" / "queries.toml"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
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
        for hit in policy_index.search(judgment.query, per_page=100).hits:
            if judgment.kind in ("operator", "precision") or "-" in judgment.query:
                continue
            assert "<mark>" in hit.highlight, (judgment.query, hit.id)
            plain = hit.highlight.replace("<mark>", "").replace("</mark>", "")
            assert plain == hit.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The natural set: queries as people type them, graded judgments (tests/relevance/natural.toml)

NATURAL = Path(__file__).resolve().parent / "relevance" / "natural.toml"
NATURAL_KINDS = {"sentence", "question", "sparse", "concept", "kana", "mixed", "name",
                 "katakana_part"}  # fmt: skip
# The issues' targets: nDCG@10 0.85 for sentence, question, sparse and overall (README).
NDCG_FLOORS = {kind: 0.85 for kind in ("sentence", "question", "sparse", "overall")}
EVERY_KIND_FLOOR = 0.6


def natural_run(policy_index):
    def run(query: str) -> list[str]:
        ids, page = [], 1
        while True:
            result = policy_index.search(query, per_page=100, page=page)
            ids += [hit.id for hit in result.hits]
            if len(ids) >= result.total or not result.hits:
                return ids
            page += 1

    return run


@pytest.fixture(scope="module")
def natural(policy_index):
    return graded_summary(evaluate_graded(load_graded(NATURAL), natural_run(policy_index)))


def test_the_natural_set_is_large_judged_and_covers_every_kind(seed_items):
    judgments = load_graded(NATURAL)
    known = {item.id for item in seed_items}
    assert len(judgments) >= 70
    kinds = [j.kind for j in judgments]
    assert set(kinds) == NATURAL_KINDS and min(kinds.count(k) for k in NATURAL_KINDS) >= 9
    for judgment in judgments:
        assert set(judgment.grades) <= known, judgment.query
        assert judgment.reason, judgment.query


def test_natural_queries_never_come_back_empty_and_succeed_at_three(natural):
    for kind in ("sentence", "question", "sparse", "overall"):
        assert natural[kind].zero_result_rate == 0, kind
        assert natural[kind].success3 >= 0.9, kind
    assert all(summary.zero_result_rate == 0 for summary in natural.values())


def test_natural_ndcg_floors(natural):
    for kind, floor in NDCG_FLOORS.items():
        assert natural[kind].ndcg10 >= floor, (kind, natural[kind])
    for kind in NATURAL_KINDS:
        assert natural[kind].ndcg10 >= EVERY_KIND_FLOOR, (kind, natural[kind])


def test_natural_queries_beat_the_plain_peers_on_every_kind(natural, seed_items, tmp_path):
    for factory in (SudachiOrEngine, SubstringEngine):
        engine = factory(seed_items, CORPUS, tmp_path)
        try:
            peer = graded_summary(evaluate_graded(load_graded(NATURAL), engine.search))
        finally:
            engine.close()
        for kind in (*NATURAL_KINDS, "overall"):
            assert natural[kind].ndcg10 > peer[kind].ndcg10, (engine.name, kind)


# The held-out concept set (tests/relevance/unseen.toml): words the documents do not use, judged
# before they were run; the word vectors and the near concepts answer most (README, Search
# quality). Floors below what it reaches (0.63 / 12 % on concept, 2026-12-04); the controls must
# stay empty.
UNSEEN = Path(__file__).resolve().parent / "relevance" / "unseen.toml"


def test_held_out_concepts_are_found_and_controls_stay_empty(policy_index):
    results = evaluate_graded(load_graded(UNSEEN), natural_run(policy_index))
    table = graded_summary(results)
    assert table["concept"].ndcg10 >= 0.58 and table["concept"].zero_result_rate <= 0.2, table
    assert all(ranked == [] for _, _, ranked in results["control"])


# The held-out sentences and questions (tests/relevance/unseen_sentences.toml), judged before the
# engine was run on them: 0.61 nDCG@10 on 2026-12-04, where the query's Sudachi tokens OR-ed and
# ranked by BM25 give 0.51. Never empty, and ahead of that peer on each kind.
UNSEEN_SENTENCES = Path(__file__).resolve().parent / "relevance" / "unseen_sentences.toml"


def test_held_out_sentences_and_questions_beat_a_plain_bm25_or(policy_index, seed_items, tmp_path):
    judgments = load_graded(UNSEEN_SENTENCES)
    assert {j.kind for j in judgments} == {"sentence", "question"} and len(judgments) >= 24
    ours = graded_summary(evaluate_graded(judgments, natural_run(policy_index)))
    engine = SudachiOrEngine(seed_items, CORPUS, tmp_path)
    try:
        peer = graded_summary(evaluate_graded(judgments, engine.search))
    finally:
        engine.close()
    assert ours["overall"].ndcg10 >= 0.56 and ours["overall"].zero_result_rate == 0, ours
    for kind in ("sentence", "question", "overall"):
        assert ours[kind].ndcg10 > peer[kind].ndcg10, (kind, ours[kind], peer[kind])
