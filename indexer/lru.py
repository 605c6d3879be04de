"""A least-recently-used cache bounded in bytes as well as in entries.

The search keeps arrays per query and per term (postings, scored matches, graded matches) so
that the next page and the facet links do not work them out again. Their size grows with the
corpus: the graded matches of the benchmark's 53 natural queries take 14 MB at 100 times the
seed and 138 MB at 1000 times, in each worker. A count alone bounds them at the seed, not as the
corpus grows; a byte budget bounds both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
HASH_ATTRIBUTE = "_lru_hash"  # where a key with attributes keeps its hash, once worked out


class BytesLRU(Generic[Value]):
    """Keep values by key, least recently used out first beyond `budget` bytes or `most` entries.

    The newest entry always stays, however large. A kept value may grow after it is returned (a
    graded match works out its buckets as the search goes on): the last one used is measured
    again when the next is asked for, and any one again when it is used again.

    >>> cache = BytesLRU(budget=10, size=len, most=3)
    >>> [cache.get(key, lambda key=key: key * 4) for key in ("a", "b", "a", "c")]
    ['aaaa', 'bbbb', 'aaaa', 'cccc']
    >>> list(cache), cache.bytes
    (['a', 'c'], 8)
    >>> cache.get("long", lambda: "x" * 50) and list(cache), cache.bytes
    (['long'], 50)
    """

    def __init__(self, budget: int, size: Callable[[Value], int], most: int | None = None):
        self.budget, self.size, self.most = budget, size, most
        self.bytes = 0
        self._entries: OrderedDict[_Key, tuple[Value, int]] = OrderedDict()
        self._lock = threading.Lock()  # the bookkeeping only: values are made outside it

    def get(self, key: Hashable, make: Callable[[], Value]) -> Value:
        """Return the value kept for `key`, or make it, keep it and forget the oldest beyond."""
        key = _Key(key)
        with self._lock:
            if self._entries:
                newest, (kept, counted) = next(reversed(self._entries.items()))
                size = self.size(kept)
                self._entries[newest] = (kept, size)
                self.bytes += size - counted
            found = self._entries.get(key)
        value = make() if found is None else found[0]
        size = self.size(value)
        with self._lock:
            counted = self._entries.pop(key, (None, 0))[1]
            self._entries[key] = (value, size)
            self.bytes += size - counted
            while len(self._entries) > 1 and (
                self.bytes > self.budget
                or (self.most is not None and len(self._entries) > self.most)
            ):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped
        return value

    def __iter__(self):
        with self._lock:
            return iter([key.key for key in self._entries])

    def values(self) -> list[Value]:
        with self._lock:
            return [value for value, _ in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


class _Key:
    """A key whose hash is worked out once: a Whoosh query's hash walks its whole tree, and the
    dictionary asks for it at every lookup. The same object (a kept graded match's query) is
    equal without walking it, and keeps its hash for the next lookup."""

    __slots__ = ("key", "hash")

    def __init__(self, key: Hashable):
        self.key = key
        kept = getattr(key, "__dict__", None)  # a Whoosh query has one; a tuple or str has not
        if kept is None:
            self.hash = hash(key)
        elif (found := kept.get(HASH_ATTRIBUTE)) is not None:
            self.hash = found
        else:
            self.hash = kept[HASH_ATTRIBUTE] = hash(key)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.hash == other.hash and (
            self.key is other.key or self.key == other.key
        )
