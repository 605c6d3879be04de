"""Synonyms: abbreviations the documents define, plus a small curated list in the corpus."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from indexer.corpus import CorpusError, PolicyItem
from indexer.synonym_dictionary import corpus_groups, load_dictionary

CURATED = "synonyms.toml"
SYNONYMS_FILE = "synonyms.json"  # written into each index generation by the build

_JAPANESE = r"[一-龥々ァ-ヺー・]{2,}"
_ABBREVIATION = r"[A-Z][A-Za-z ]*[A-Z]"
FULL_THEN_SHORT = re.compile(rf"({_JAPANESE})\(\s*({_ABBREVIATION})\s*\)")
SHORT_THEN_FULL = re.compile(rf"({_ABBREVIATION})\(\s*({_JAPANESE})\s*\)")


def mine_abbreviations(texts: Iterable[str]) -> list[list[str]]:
    """Find `full form（ABBR）` and `ABBR（full form）` pairs, as [abbreviation, full form].

    >>> mine_abbreviations(["分野でのデジタルトランスフォーメーション（DX）", "OJT（職場内研修）"])
    [['DX', 'デジタルトランスフォーメーション'], ['OJT', '職場内研修']]
    """
    pairs: dict[tuple[str, str], None] = {}
    for text in texts:
        folded = unicodedata.normalize("NFKC", text)
        for full, short in FULL_THEN_SHORT.findall(folded):
            pairs[(short.replace(" ", ""), full)] = None
        for short, full in SHORT_THEN_FULL.findall(folded):
            pairs[(short.replace(" ", ""), full)] = None
    return [list(pair) for pair in pairs]


def read_curated(corpus_dir: Path | str, key: str = "groups") -> list[list[str]]:
    """Return the curated synonym groups of the corpus (none when the file is absent).

    `key` is ``groups`` (words meaning the same) or ``related`` (near concepts).
    """
    path = Path(corpus_dir) / CURATED
    if not path.exists():
        return []
    try:
        groups = tomllib.loads(path.read_text(encoding="utf-8")).get(key, [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CorpusError(path, None, f"not a valid TOML synonym list ({error})") from None
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(w, str) for w in g) for g in groups
    ):
        raise CorpusError(path, None, f"{key} must be lists of two or more words")
    return groups


def synonym_groups(corpus_dir: Path | str, items: list[PolicyItem]) -> list[list[str]]:
    """Return the mined and the curated groups together."""
    return mine_abbreviations(item.text for item in items) + read_curated(corpus_dir)


def dictionary_groups(items: list[PolicyItem], path: Path | None = None) -> list[dict]:
    """Return the groups of Sudachi's synonym dictionary that lead to words of the items.

    Each is ``{"words": [targets the items hold], "triggers": [words that expand]}``; a missing
    or damaged dictionary raises `DictionaryError`.
    """
    groups = corpus_groups(load_dictionary(path), [item.text for item in items])
    return [{"words": list(g.words), "triggers": list(g.triggers)} for g in groups]


def synonym_file(corpus_dir: Path | str, items: list[PolicyItem]) -> dict:
    """Return what the build writes to SYNONYMS_FILE: curated and mined groups, the dictionary's."""
    return {
        "groups": synonym_groups(corpus_dir, items),
        "related": read_curated(corpus_dir, "related"),
        "dictionary": dictionary_groups(items),
    }
