"""The caches bounded in bytes: what they keep, and that searches answer the same through them."""

from __future__ import annotations

import numpy as np

from indexer.lru import BytesLRU
from indexer.search import PolicyIndex


def test_the_budget_and_the_count_both_bound_it():
    cache = BytesLRU(budget=100, size=len, most=3)
    for key, size in [("a", 40), ("b", 40), ("c", 10), ("d", 10)]:
        cache.get(key, lambda size=size: "x" * size)
    assert list(cache) == ["b", "c", "d"] and cache.bytes == 60  # the count: 3 at most
    cache.get("e", lambda: "x" * 60)
    assert list(cache) == ["c", "d", "e"] and cache.bytes == 80  # the bytes: b went first
    made = []
    assert cache.get("c", lambda: made.append("c") or "again") == "x" * 10 and not made
    cache.get("f", lambda: "x" * 25)
    assert list(cache) == ["e", "c", "f"] and cache.bytes == 95  # c was used last: d went


class CountedKey:
    """A key that counts how often its hash is asked for (a Whoosh query walks its tree)."""

    asked = 0

    def __init__(self, name: str):
        self.name = name

    def __hash__(self) -> int:
        CountedKey.asked += 1
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountedKey) and other.name == self.name


def test_equal_keys_meet_and_each_lookup_hashes_its_key_once():
    cache = BytesLRU(budget=100, size=len)
    cache.get(CountedKey("防災"), lambda: "first")
    CountedKey.asked = 0
    assert cache.get(CountedKey("防災"), lambda: "again") == "first"  # another, equal object
    cache.get(CountedKey("子育て"), lambda: "second")
    assert CountedKey.asked == 2
    assert [key.name for key in cache] == ["防災", "子育て"]


def test_a_value_that_grows_is_counted_again_when_used():
    cache: BytesLRU[list] = BytesLRU(budget=10, size=len)
    grows = cache.get("grows", lambda: [1, 2])
    cache.get("other", lambda: [1, 2, 3])
    grows.extend([3, 4, 5, 6, 7, 8])
    cache.get("grows", list)
    assert list(cache) == ["grows"] and cache.bytes == 8  # 8 + 3 > 10: the other went
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_graded_matches_keep_to_their_budget_and_answer_the_same(seed_index_dir, monkeypatch):
    queries = ["介護予防の取り組み", "防災 DX", "年寄り", "こうきょうこうつう", "推進",
               "保育士 負担", "福祉部の相談窓口", "公共施設の集約・統廃合について", "地域",
               "計画"]  # fmt: skip

    def answers(index: PolicyIndex) -> dict:
        return {
            q: [(h.id, h.score, h.missing) for h in index.search(q, per_page=100).hits]
            for q in queries * 2
        }

    expected = answers(PolicyIndex(seed_index_dir))
    monkeypatch.setattr("indexer.snapshot.GRADED_BUDGET", 20_000)
    monkeypatch.setattr("indexer.arrays.SCORED_BUDGET", 4_000)
    index = PolicyIndex(seed_index_dir)
    assert answers(index) == expected
    snapshot = index.current()
    understood = snapshot.understood("地域の防災")  # the last graded match is measured again
    snapshot.graded(understood.words, understood.phrases)
    for cache, budget in ((snapshot._graded, 20_000), (snapshot.matching._scored, 4_000)):
        assert 1 < len(cache) < len(queries)  # bounded, not emptied
        assert cache.bytes == sum(cache.size(value) for value in cache.values()) <= budget
    kept = snapshot._graded.values()
    assert all(g.nbytes() >= g.docs.nbytes + g.levels.nbytes for g in kept)
    assert any(isinstance(g.levels, np.ndarray) and len(g.docs) for g in kept)
