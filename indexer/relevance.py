"""Judged relevance: load the query set and score a ranked result list against it."""

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
    judgments: Iterable[Judgment], run: Callable[[str], list[str]]
) -> dict[str, list[tuple[Judgment, Score, list[str]]]]:
    """Run every judged query and score it; results grouped by kind."""
    by_kind: dict[str, list] = defaultdict(list)
    for judgment in judgments:
        ranked = run(judgment.query)
        score = Score(f1(ranked, judgment.relevant), ndcg_at_10(ranked, judgment))
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
