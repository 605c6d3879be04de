"""A bounded cache of search results in front of the index, forgotten when the index changes.

People come back to the same searches: the next page, a facet and back, the same few queries
all day. `CachedIndex` answers a search it has answered before from memory, keyed by the index
generation and every parameter of the search; the least recently used result goes first once
the cache is full, and a rebuilt index empties it on the first request that sees the new one.
Size 0 turns it off (``POLICY_RESULT_CACHE_SIZE=0`` or ``python -m webapp --result-cache 0``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from indexer.search import PolicyIndex, SearchResult

RESULT_CACHE_SIZE = 512  # results: a page of 20 hits takes about 20 KB, one of 100 about 80 KB


class ResultCache:
    """The last `size` results of one index generation, least recently used out first.

    >>> cache = ResultCache(2)
    >>> [cache.get("gen-1", q, lambda q=q: q.upper()) for q in ("a", "b", "a", "c")]
    ['A', 'B', 'A', 'C']
    >>> list(cache.keys()), cache.hits, cache.misses
    (['a', 'c'], 1, 3)
    >>> cache.get("gen-2", "a", lambda: "new"), list(cache.keys())
    ('new', ['a'])
    """

    def __init__(self, size: int):
        self.size = size
        self.hits = self.misses = 0
        self._generation: Hashable = None
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, generation: Hashable, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the result kept for `key` in `generation`, or compute it and keep it."""
        if self.size <= 0:
            return compute()
        with self._lock:
            if generation != self._generation:  # a new index: nothing kept holds for it
                self._results.clear()
                self._generation = generation
            if key in self._results:
                self.hits += 1
                self._results.move_to_end(key)
                return self._results[key]
            self.misses += 1
        result = compute()  # outside the lock: two workers' threads search at once
        with self._lock:
            if generation == self._generation:
                self._results[key] = result
                if len(self._results) > self.size:
                    self._results.popitem(last=False)
        return result

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._results)

    def __len__(self) -> int:
        return len(self._results)


class CachedIndex:
    """A `PolicyIndex` whose searches go through a `ResultCache`; everything else is the index's.

    A result is shared by every request that asks the same search, so nothing may change it
    (nothing does: the views and the API only read it).
    """

    def __init__(self, index: PolicyIndex, size: int = RESULT_CACHE_SIZE):
        self.index = index
        self.cache = ResultCache(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)

    def search(
        self,
        query: str = "",
        departments: Sequence[str] = (),
        categories: Sequence[str] = (),
        columns: Sequence[str] = (),
        page: int = 1,
        per_page: int = 20,
        match: str = "any",
        expand: bool = True,
        names: bool = True,
    ) -> SearchResult:
        """Search as `PolicyIndex.search` does, from the cache when the same search was made."""
        departments, categories, columns = tuple(departments), tuple(categories), tuple(columns)
        key = (query, departments, categories, columns, page, per_page, match, expand, names)
        return self.cache.get(
            self.index.current().target,
            key,
            lambda: self.index.search(
                query, departments, categories, columns, page, per_page, match, expand, names
            ),
        )
