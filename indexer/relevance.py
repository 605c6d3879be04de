"""Judged relevance: load the query sets and score a ranked result list against them.

Two sets: the keyword set (`queries.toml`, binary judgments, F1 and nDCG@10) and the natural set
(`natural.toml`, graded judgments: nDCG@10 with gains 3 and 1, zero-result rate, success@3).
"""

from __future__ import annotations

import math
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Judgment:
    query: str
    kind: str
    relevant: frozenset[str]
    first: str | None
    reason: str


@dataclass(frozen=True)
class Score:
    f1: float
    ndcg10: float


def load_judgments(path: Path | str) -> list[Judgment]:
    """Read the judged queries of a TOML file (`[[query]]` with q, kind, relevant, reason)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [
        Judgment(q["q"], q["kind"], frozenset(q["relevant"]), q.get("first"), q.get("reason", ""))
        for q in data["query"]
    ]


def f1(ranked: list[str], relevant: frozenset[str]) -> float:
    """Return set F1 of the whole result list; an empty list for no relevant item scores 1.

    >>> f1(["a", "b"], frozenset({"a"})), f1([], frozenset())
    (0.6666666666666666, 1.0)
    """
    found = set(ranked)
    if not relevant:
        return 1.0 if not found else 0.0
    hits = len(found & relevant)
    if not hits:
        return 0.0
    precision, recall = hits / len(found), hits / len(relevant)
    return 2 * precision * recall / (precision + recall)


def ndcg_at_10(ranked: list[str], judgment: Judgment) -> float:
    """Return nDCG@10 with binary gains; a known item's expected first hit gains double.

    >>> ndcg_at_10(["x", "a"], Judgment("q", "k", frozenset({"a"}), None, ""))
    0.6309297535714575
    """
    def gain(item_id: str) -> float:
        if item_id not in judgment.relevant:
            return 0.0
        return 2.0 if item_id == judgment.first else 1.0

    if not judgment.relevant:
        return 1.0 if not ranked else 0.0
    dcg = sum(gain(i) / math.log2(rank + 2) for rank, i in enumerate(ranked[:10]))
    ideal = sorted((gain(i) for i in judgment.relevant), reverse=True)[:10]
    return dcg / sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))


def evaluate(
    judgments: Iterable[Judgment], run: Callable[[str], list[str] | tuple[list[str], int]]
) -> dict[str, list[tuple[Judgment, Score, list[str]]]]:
    """Run every judged query and score it; results grouped by kind.

    `run` gives the ranked ids, or the ranked ids and how many of the first hold every word of
    the query: F1 counts those only (partial matches follow them), nDCG@10 the whole list.
    """
    by_kind: dict[str, list] = defaultdict(list)
    for judgment in judgments:
        ranked = run(judgment.query)
        if isinstance(ranked, tuple):
            ranked, full = ranked
        else:
            full = len(ranked)
        score = Score(f1(ranked[:full], judgment.relevant), ndcg_at_10(ranked, judgment))
        by_kind[judgment.kind].append((judgment, score, ranked))
    return dict(by_kind)


def summary(results: dict[str, list]) -> dict[str, Score]:
    """Return mean F1 and nDCG@10 per kind and `overall`."""
    table = {}
    everything = [row for rows in results.values() for row in rows]
    for kind, rows in [*sorted(results.items()), ("overall", everything)]:
        table[kind] = Score(
            sum(s.f1 for _, s, _ in rows) / len(rows), sum(s.ndcg10 for _, s, _ in rows) / len(rows)
        )
    return table


ON_TOPIC, PARTLY = 2, 1


@dataclass(frozen=True)
class GradedJudgment:
    query: str
    kind: str
    grades: dict[str, int]  # item id → 2 (on topic) or 1 (partly)
    reason: str = ""
    added_after_tuning: bool = False


@dataclass(frozen=True)
class GradedScore:
    ndcg10: float
    zero_result: bool  # nothing found while the corpus holds a relevant item
    success3: bool  # an on-topic item among the first three


def load_graded(path: Path | str) -> list[GradedJudgment]:
    """Read a graded set: `[[query]]` with q, kind, on_topic, partly, reason."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    judgments = []
    for q in data["query"]:
        grades = {item: PARTLY for item in q.get("partly", [])}
        grades.update({item: ON_TOPIC for item in q.get("on_topic", [])})
        judgments.append(
            GradedJudgment(
                q["q"], q["kind"], grades, q.get("reason", ""), q.get("added_after_tuning", False)
            )
        )
    return judgments


def graded_ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    """Return nDCG@10 with gain 2**grade - 1 (3 on topic, 1 partly); no relevant item: 1 if empty.

    >>> round(graded_ndcg_at_10(["b", "a"], {"a": 2, "b": 1}), 3)
    0.797
    """
    if not grades:
        return 1.0 if not ranked else 0.0
    gain = [2 ** grades.get(item, 0) - 1 for item in ranked[:10]]
    ideal = sorted((2**g - 1 for g in grades.values()), reverse=True)[:10]
    dcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(gain))
    return dcg / sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))


def success_at_3(ranked: list[str], grades: dict[str, int]) -> bool:
    """Tell that an on-topic item is among the first three (with none judged, any relevant one).

    >>> success_at_3(["x", "y", "a"], {"a": 2}), success_at_3(["x", "y", "z", "a"], {"a": 2})
    (True, False)
    """
    best = max(grades.values(), default=0)
    if not best:
        return not ranked
    return any(grades.get(item, 0) == best for item in ranked[:3])


def evaluate_graded(
    judgments: Iterable[GradedJudgment], run: Callable[[str], list[str]]
) -> dict[str, list[tuple[GradedJudgment, GradedScore, list[str]]]]:
    """Run every graded query and score it; results grouped by kind."""
    by_kind: dict[str, list] = defaultdict(list)
    for judgment in judgments:
        ranked = run(judgment.query)
        score = GradedScore(
            graded_ndcg_at_10(ranked, judgment.grades),
            bool(judgment.grades) and not ranked,
            success_at_3(ranked, judgment.grades),
        )
        by_kind[judgment.kind].append((judgment, score, ranked))
    return dict(by_kind)


@dataclass(frozen=True)
class GradedSummary:
    queries: int
    ndcg10: float
    zero_result_rate: float
    success3: float


def graded_summary(results: dict[str, list]) -> dict[str, GradedSummary]:
    """Return mean nDCG@10, zero-result rate and success@3 per kind and `overall`."""
    table = {}
    everything = [row for rows in results.values() for row in rows]
    for kind, rows in [*sorted(results.items()), ("overall", everything)]:
        scores = [score for _, score, _ in rows]
        table[kind] = GradedSummary(
            len(rows),
            sum(s.ndcg10 for s in scores) / len(rows),
            sum(s.zero_result for s in scores) / len(rows),
            sum(s.success3 for s in scores) / len(rows),
        )
    return table
