"""Names people know: a department, row or column named in a query is a filter, not a word.

Department names, rows (施策, 改革, 人材育成・活用) and columns (経営方針, 重点目標) are facets of
the items, not their text, so 都市整備部 交通 finds nothing as words. `NameFinder` recognises
them in a query, with the short forms people use (教育委員会 for 教育委員会事務局, 議会事務局 for
区議会事務局), so that the search applies them as that facet's filter.

A department is recognised wherever it stands as a run of its own (福祉部の相談窓口); a row or a
column only as a word typed on its own beside others (改革 DX), since 改革 inside a sentence, or
typed alone, is a word of the items too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEPARTMENT = "department"
SUFFIXES = ("事務局",)  # 教育委員会事務局 → 教育委員会
PREFIXES = ("区",)  # 区議会事務局 → 議会事務局
MIN_ALIAS = 3  # shorter forms are words, not names (区議会 → 議会 is not taken)


@dataclass(frozen=True)
class Name:
    """A facet value named in a query: which facet, which value, and the text as typed."""

    facet: str
    value: str
    text: str


def aliases(value: str) -> set[str]:
    """Return the forms of a department's name that people type for it.

    >>> sorted(aliases("区議会事務局"))
    ['区議会', '区議会事務局', '議会事務局']
    >>> sorted(aliases("福祉部"))
    ['福祉部']
    """
    forms = {value}
    for suffix in SUFFIXES:
        forms |= {f[: -len(suffix)] for f in list(forms) if f.endswith(suffix)}
    for prefix in PREFIXES:
        forms |= {f[len(prefix) :] for f in list(forms) if f.startswith(prefix)}
    return {f for f in forms if len(f) >= MIN_ALIAS}


class NameFinder:
    """Recognise the facet values of an index named in a query."""

    def __init__(self, values: Mapping[str, Iterable[str]]):
        self.departments: dict[str, str] = {}
        self.others: dict[str, tuple[str, str]] = {}
        for facet, facet_values in values.items():
            for value in facet_values:
                if facet == DEPARTMENT:
                    for form in aliases(value):
                        self.departments.setdefault(_fold(form), value)
                else:
                    self.others.setdefault(_fold(value), (facet, value))

    def piece(self, text: str) -> Name | None:
        """Return the name a whole typed word is, of any facet.

        >>> finder = NameFinder({"department": ["福祉部"], "category": ["改革"]})
        >>> finder.piece("改革"), finder.piece("福祉部").value, finder.piece("福祉")
        (Name(facet='category', value='改革', text='改革'), '福祉部', None)
        """
        found = self.others.get(_fold(text))
        if found:
            return Name(found[0], found[1], text)
        return self.run(text)

    def run(self, text: str) -> Name | None:
        """Return the department a run of content units inside a sentence names."""
        value = self.departments.get(_fold(text))
        return Name(DEPARTMENT, value, text) if value else None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "")
