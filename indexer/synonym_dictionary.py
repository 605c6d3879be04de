"""Sudachi's synonym dictionary (Works Applications, Apache-2.0), installed from npm by `npm ci`.

The package `sudachi-synonyms-dictionary` ships the dictionary as one JSON list of groups, each
`{"id": "000001", "items": [{"midashi": "曖昧", "expandControl": 0, ...}, ...]}`. Its
`expandControl` flag says how an item takes part in expansion: 0 always, 1 only as a target (never
a trigger itself), 2 never (a deletion record kept so that a harmful synonym is not added again).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer.dictionary import cache_dir

PACKAGE = "sudachi-synonyms-dictionary"
DICTIONARY_FILE = (
    Path(__file__).resolve().parent.parent / "node_modules" / PACKAGE / f"{PACKAGE}.json"
)

ALWAYS, TARGET_ONLY, NEVER = 0, 1, 2


class DictionaryError(Exception):
    """The synonym dictionary is missing or is not what the package ships."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclass(frozen=True)
class SynonymGroup:
    """One group: the words usable as expansion targets, and those that may trigger one."""

    id: str
    words: tuple[str, ...]
    triggers: tuple[str, ...]


def fold(text: str) -> str:
    """Fold a text the way the dictionary and the corpus are compared.

    >>> fold("ＤＸ ㎡")
    'DX m2'
    """
    return unicodedata.normalize("NFKC", text)


def parse_group(raw: object, number: int) -> SynonymGroup | None:
    """Turn one raw group into a SynonymGroup, or None when fewer than two words are usable.

    >>> parse_group({"id": "1", "items": [{"midashi": "ゴミ", "expandControl": 0},
    ...     {"midashi": "塵", "expandControl": 1}, {"midashi": "芥", "expandControl": 2}]}, 0)
    SynonymGroup(id='1', words=('ゴミ', '塵'), triggers=('ゴミ',))
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        raise ValueError(f"group {number} is not an object with a list of items")
    group_id = raw.get("id")
    if not isinstance(group_id, str):
        raise ValueError(f"group {number} has no string id")
    words: dict[str, bool] = {}  # folded headword -> may trigger
    for item in raw["items"]:
        if not isinstance(item, dict) or not isinstance(item.get("midashi"), str):
            raise ValueError(f"group {group_id} has an item without a string midashi")
        control = item.get("expandControl")
        if type(control) is not int or control not in (ALWAYS, TARGET_ONLY, NEVER):
            raise ValueError(f"group {group_id} has an expandControl that is not 0, 1 or 2")
        word = fold(item["midashi"]).strip()
        if control != NEVER and word:
            words[word] = words.get(word, False) or control == ALWAYS
    if len(words) < 2:
        return None
    return SynonymGroup(group_id, tuple(words), tuple(w for w, trigger in words.items() if trigger))


def dictionary_file() -> Path:
    """Return the dictionary's path: $SUDACHI_SYNONYMS if set, else the npm package's file."""
    return Path(os.environ.get("SUDACHI_SYNONYMS") or DICTIONARY_FILE)


def load_dictionary(path: Path | None = None) -> list[SynonymGroup]:
    """Read and check the dictionary; raise DictionaryError when it is missing or malformed.

    The checked groups are kept in the cache directory under the hash of the file, so a build
    reads 14 MB of JSON only once per dictionary version (1 s; the cached copy 0.1 s).
    """
    path = Path(path or dictionary_file())
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    cached = _cache_file(raw) if raw is not None else None
    if cached is not None:
        try:
            groups = pickle.loads(cached.read_bytes())
            if isinstance(groups, list) and all(isinstance(g, SynonymGroup) for g in groups):
                return groups
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            pass  # no cached copy, or a damaged one: read the dictionary itself
    groups = _parse(path, raw)
    if cached is not None:
        _write_cache(cached, groups)
    return groups


def _cache_file(raw: bytes) -> Path:
    return cache_dir() / f"synonyms-{hashlib.sha256(raw).hexdigest()[:16]}.pickle"


def _write_cache(target: Path, groups: list[SynonymGroup]) -> None:
    """Write the parsed groups beside the other caches; a cache that cannot be written is none."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(groups, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(scratch, target)
    except OSError:
        pass


def _parse(path: Path, raw: bytes | None) -> list[SynonymGroup]:
    try:
        if raw is None:
            raise FileNotFoundError(path)
        data = json.loads(raw)
    except FileNotFoundError:
        raise DictionaryError(
            path,
            f"the synonym dictionary is not installed: run `make serve` (or `npm ci` in the "
            f"repository) to install the npm package {PACKAGE}, or set SUDACHI_SYNONYMS to its "
            f"{PACKAGE}.json",
        ) from None
    except (OSError, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise DictionaryError(path, f"not a readable JSON synonym dictionary ({error})") from None
    if not isinstance(data, list):
        raise DictionaryError(path, "not a synonym dictionary: expected a JSON list of groups")
    try:
        parsed = [parse_group(raw, number) for number, raw in enumerate(data)]
    except ValueError as error:
        raise DictionaryError(path, f"not a synonym dictionary: {error}") from None
    return [group for group in parsed if group is not None]


def relevant_groups(
    groups: Iterable[SynonymGroup], texts: Iterable[str], max_length: int = 12
) -> list[SynonymGroup]:
    """Keep the groups with a word that occurs in the texts: only they can lead a query to an item.

    >>> groups = [SynonymGroup("1", ("ごみ", "ゴミ"), ("ごみ",)), SynonymGroup("2", ("犬",), ())]
    >>> [group.id for group in relevant_groups(groups, ["ゴミの減量"])]
    ['1']
    """
    groups = list(groups)
    found = occurring(texts, {word for group in groups for word in group.words}, max_length)
    return [group for group in groups if any(word in found for word in group.words)]


def occurring(texts: Iterable[str], words: set[str], max_length: int = 12) -> set[str]:
    """Return the (folded) words that occur in the texts.

    Every substring of up to `max_length` characters of each distinct folded text is looked up
    in the set of words that begin with its first character, so the time grows with the corpus,
    not with the dictionary: against the whole dictionary (70,146 words) the seed (475 items,
    18,885 characters) takes 0.2 s and 100 times the seed 6 s on the project's 2-core machine;
    the few longer words are searched for in the joined texts.
    """
    folded = list(dict.fromkeys(fold(text) for text in texts))
    short = {word for word in words if len(word) <= max_length}
    lengths: dict[str, set[int]] = {}  # first character → the lengths of the words it starts
    for word in short:
        lengths.setdefault(word[0], set()).add(len(word))
    by_first = {first: sorted(sizes) for first, sizes in lengths.items()}
    found = set()
    for text in folded:
        for start, first in enumerate(text):
            for length in by_first.get(first, ()):
                piece = text[start : start + length]
                if piece in short:
                    found.add(piece)
    joined = "\0".join(folded)
    return found | {word for word in words - short if word in joined}


def corpus_groups(groups: Iterable[SynonymGroup], texts: Iterable[str]) -> list[SynonymGroup]:
    """Narrow each group's targets to the words the texts hold; keep the groups with a target.

    The triggers stay whole: 年寄り, which the documents never write, still leads to 高齢者.

    >>> groups = [SynonymGroup("1", ("高齢者", "年寄り"), ("高齢者", "年寄り"))]
    >>> corpus_groups(groups, ["高齢者の健康"])[0].words
    ('高齢者',)
    """
    groups = list(groups)
    found = occurring(texts, {word for group in groups for word in group.words})
    narrowed = []
    for group in groups:
        present = tuple(word for word in group.words if word in found)
        # Worth keeping when some trigger leads to a present word other than itself.
        if any(target != trigger for trigger in group.triggers for target in present):
            narrowed.append(SynonymGroup(group.id, present, group.triggers))
    return narrowed
