"""Profile a piece of work and say where its time goes, by area of the code rather than function.

Time spent in a built-in (``sorted``, ``Counter``'s counting, ``zlib.decompress``) counts for
the area that called it, except Sudachi's tokenizer and the unpickling of stored fields, which
are areas of their own. A search is charged to `AREAS`, a build to `BUILD_AREAS`.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable

AREAS = (
    "Sudachi tokenizer (native)",
    "analysis chain (Python)",
    "highlight spans and HTML",
    "query parsing",
    "stored fields (unpickle)",
    "Whoosh matching and scoring",
    "postings arrays: matching and BM25F (numpy)",
    "graded ranking",
    "caches' bookkeeping",
    "search.py: ranking glue, facets, filters",
    "other",
)
# The area of each file of ours or Whoosh's; numpy's own Python counts for its caller.
_SEARCH_FILES = (
    ("indexer/analysis.py", AREAS[1]),
    ("indexer/highlight.py", AREAS[2]),
    ("indexer/query.py", AREAS[3]),
    ("/whoosh/", AREAS[5]),
    ("indexer/scoring.py", AREAS[5]),  # our loop over Whoosh's matchers
    ("indexer/arrays.py", AREAS[6]),
    ("indexer/graded.py", AREAS[7]),
    ("indexer/lru.py", AREAS[8]),
    ("indexer/search.py", AREAS[9]),
)


def area_of(path: str, name: str) -> str | None:
    """Return the area of one profiled function, or None for a built-in to charge to its caller.

    >>> area_of("/x/site-packages/whoosh/matching/mcore.py", "next")
    'Whoosh matching and scoring'
    >>> area_of("~", "<method 'tokenize' of 'sudachipy.tokenizer.Tokenizer' objects>")
    'Sudachi tokenizer (native)'
    >>> area_of("~", "<built-in method builtins.sorted>") is None
    True
    >>> area_of("/x/site-packages/numpy/_core/fromnumeric.py", "sum") is None
    True
    """
    if "sudachipy" in name or "sudachipy" in path:
        return AREAS[0]
    if "_pickle.loads" in name:
        return AREAS[4]
    for fragment, area in _SEARCH_FILES:
        if fragment in path:
            return area
    return None if path == "~" or "/numpy/" in path else AREAS[-1]


BUILD_AREAS = (
    "Sudachi tokenizer (native)",
    "analysis chain (Python)",
    "vocabulary",
    "Whoosh: each item's postings, lengths and columns",
    "Whoosh: sorting the postings and writing the segment",
    "other",
)


def build_area_of(path: str, name: str) -> str | None:
    """Return the area of one function of a build, or None to charge it to its callers.

    Whoosh's own functions go to their callers too, up to the writer's ``add_document`` (work
    per item, analysis aside) or its ``commit`` (the posting pool sorted, the segment written).

    >>> build_area_of("/x/whoosh/writing.py", "commit")
    'Whoosh: sorting the postings and writing the segment'
    >>> build_area_of("/x/whoosh/formats.py", "word_values") is None
    True
    """
    if "sudachipy" in name or "sudachipy" in path:
        return BUILD_AREAS[0]
    if "indexer/vocabulary.py" in path:
        return BUILD_AREAS[2]
    if "indexer/analysis.py" in path or "indexer/schema.py" in path:
        return BUILD_AREAS[1]
    if "/whoosh/" in path:
        if path.endswith("writing.py") and name == "add_document":
            return BUILD_AREAS[3]
        if path.endswith("writing.py") and name == "commit":
            return BUILD_AREAS[4]
        return None
    return None if path == "~" else BUILD_AREAS[-1]


def profile_areas(
    work: Callable[[], object],
    areas: tuple[str, ...] = AREAS,
    area_of: Callable[[str, str], str | None] = area_of,
) -> dict[str, float]:
    """Run `work` under cProfile; return the share of its time (0–1) in each of `areas`.

    `area_of` names a function's area, or None to charge it to its callers in proportion to
    the time each spent in it; the last area takes what has no caller to charge.
    """
    profiler = cProfile.Profile()
    profiler.runcall(work)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    seconds = dict.fromkeys(areas, 0.0)

    def charge(func: tuple, amount: float, depth: int = 0) -> None:
        area = area_of(func[0], func[2])
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        if area is not None or depth > 20 or not callers:
            seconds[area or areas[-1]] += amount
            return
        total = sum(entry[2] for entry in callers.values()) or 1.0
        for caller, entry in callers.items():
            charge(caller, amount * entry[2] / total, depth + 1)

    for func, (_, _, tottime, _, _) in stats.items():
        charge(func, tottime)
    whole = sum(seconds.values()) or 1.0
    return {area: value / whole for area, value in seconds.items()}
