"""What a search page shows besides the hits, as plain data: filters, facet links, chips, pages.

Nothing here renders HTML or imports Flask. A `SearchState` is what the URL asks for; the
functions turn it and a `SearchResult` into the view data (`value`, `count`, `selected`,
`toggle_url`, ...) that the template partials only render.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

from indexer.query import MAX_QUERY_CHARS
from indexer.schema import FACETS
from indexer.search import SearchResult

# The URL parameter of each facet (department is `dept` to keep links short).
PARAMS = {"department": "dept", "category": "category", "column": "column"}
LABELS = {"department": "部局", "category": "区分", "column": "列"}


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class SearchState:
    """The query, filters and page that a search URL asks for."""

    query: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page: int = 1
    truncated: bool = False  # the query asked for was longer than the search reads
    match: str = "any"  # "all": only the items holding every word
    expand: bool = True  # search the synonyms of the words too
    names: bool = True  # a department, row or column named in the query is a filter

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> SearchState:
        """Read a state from URL parameters, taking any page that is not a number as 1.

        The query is cut to the length the search reads, so that links carry no more, and
        loses its control characters (NUL and the like), which no search needs.
        """
        query, page, filters = "", 1, {name: [] for name in FACETS}
        match, expand, names = "any", True, True
        by_param = {param: name for name, param in PARAMS.items()}
        for key, value in pairs:
            if key == "q" and not query:
                query = CONTROL.sub("", value)
            elif key == "page":
                page = parse_page(value)
            elif key == "match":
                match = "all" if value == "all" else "any"
            elif key == "expand":
                expand = value != "off"
            elif key == "names":
                names = value != "off"
            elif key in by_param and value and value not in filters[by_param[key]]:
                filters[by_param[key]].append(value)
        return cls(
            query[:MAX_QUERY_CHARS],
            {name: tuple(values) for name, values in filters.items()},
            page,
            truncated=len(query) > MAX_QUERY_CHARS,
            match=match,
            expand=expand,
            names=names,
        )

    @classmethod
    def from_query_string(cls, query_string: str) -> SearchState:
        """Read a state from a URL query string such as ``q=防災&dept=危機管理部``."""
        return cls.from_pairs(parse_qsl(query_string, keep_blank_values=True))

    def selected(self, name: str) -> tuple[str, ...]:
        return tuple(self.filters.get(name, ()))

    @property
    def has_filters(self) -> bool:
        return any(self.selected(name) for name in FACETS)

    def toggled(self, name: str, value: str) -> SearchState:
        """Return the state with `value` added to or removed from a facet, back on page 1."""
        values = self.selected(name)
        values = tuple(v for v in values if v != value) if value in values else (*values, value)
        return replace(self, filters={**self.filters, name: values}, page=1)

    def with_filters(self, **values: tuple[str, ...]) -> SearchState:
        """Return the state with the named facets set to exactly `values`, back on page 1.

        >>> SearchState("防災").with_filters(department=("危機管理部",)).pairs()
        [('q', '防災'), ('dept', '危機管理部')]
        """
        return replace(self, filters={**self.filters, **values}, page=1)

    def without_filters(self) -> SearchState:
        return replace(self, filters={}, page=1)

    def at_page(self, page: int) -> SearchState:
        return replace(self, page=page)

    def keeping_only(
        self, known: Mapping[str, Iterable[str]]
    ) -> tuple[SearchState, list[tuple[str, str]]]:
        """Drop filter values not in `known`; return the new state and (facet, value) dropped."""
        kept, dropped = {}, []
        for name in FACETS:
            allowed = set(known.get(name, ()))
            kept[name] = tuple(v for v in self.selected(name) if v in allowed)
            dropped += [(name, v) for v in self.selected(name) if v not in allowed]
        return replace(self, filters=kept), dropped

    def filter_pairs(self) -> list[tuple[str, str]]:
        """Return the URL parameters of the selected filters only."""
        return [(PARAMS[name], value) for name in FACETS for value in self.selected(name)]

    def option_pairs(self) -> list[tuple[str, str]]:
        """Return the URL parameters of the matching options that differ from the defaults."""
        pairs = [("match", "all")] if self.match == "all" else []
        pairs += [("expand", "off")] if not self.expand else []
        return pairs + ([("names", "off")] if not self.names else [])

    def with_options(
        self, match: str | None = None, expand: bool | None = None, names: bool | None = None
    ) -> SearchState:
        """Return the state with other matching options, back on page 1.

        >>> SearchState("防災 DX").with_options(match="all").pairs()
        [('q', '防災 DX'), ('match', 'all')]
        """
        return replace(
            self,
            match=self.match if match is None else match,
            expand=self.expand if expand is None else expand,
            names=self.names if names is None else names,
            page=1,
        )

    def without_name(self, text: str) -> SearchState:
        """Return the state with a name taken out of the query, back on page 1.

        >>> SearchState("福祉部の相談窓口").without_name("福祉部").query
        'の相談窓口'
        """
        return replace(self, query=" ".join(self.query.replace(text, " ", 1).split()), page=1)

    def pairs(self) -> list[tuple[str, str]]:
        """Return the URL parameters of this state, leaving out empty ones and page 1."""
        pairs = [("q", self.query)] if self.query else []
        pairs += self.filter_pairs()
        pairs += self.option_pairs()
        if self.page > 1:
            pairs.append(("page", str(self.page)))
        return pairs

    def query_string(self) -> str:
        return urlencode(self.pairs())

    def url(self, base: str) -> str:
        """Return `base` (the search page's path) with this state's query string."""
        query_string = self.query_string()
        return f"{base}?{query_string}" if query_string else base


def parse_page(text: str) -> int:
    """Return a page number from 1, reading anything that is not a positive number as 1.

    >>> parse_page("3"), parse_page("0"), parse_page("-2"), parse_page("x")
    (3, 1, 1, 1)
    """
    try:
        return max(1, int(text.strip()))
    except ValueError:
        return 1


@dataclass(frozen=True)
class FacetLink:
    value: str
    count: int
    selected: bool
    toggle_url: str


@dataclass(frozen=True)
class FacetGroup:
    name: str
    label: str
    param: str
    values: list[FacetLink]


@dataclass(frozen=True)
class Chip:
    label: str
    value: str
    remove_url: str
    as_text_url: str | None = None  # a name taken from the query: search it as words instead
    typed: str = ""  # the name as typed in the query


def facet_groups(result: SearchResult, state: SearchState, base: str) -> list[FacetGroup]:
    """Return each facet's values with counts and the link that toggles each one.

    A value the query names (福祉部の相談窓口) is selected; its link takes the name out.
    """
    named = {(n.facet, n.value): n.text for n in result.names}
    return [
        FacetGroup(
            name,
            LABELS[name],
            PARAMS[name],
            [
                FacetLink(
                    f.value,
                    f.count,
                    f.selected,
                    (
                        state.without_name(named[(name, f.value)])
                        if (name, f.value) in named and f.value not in state.selected(name)
                        else state.toggled(name, f.value)
                    ).url(base),
                )
                for f in result.facets[name]
            ],
        )
        for name in FACETS
    ]


def active_filters(state: SearchState, base: str, result: SearchResult | None = None) -> list[Chip]:
    """Return a removable chip for every selected filter value and every name in the query."""
    chips = [
        Chip(LABELS[name], value, state.toggled(name, value).url(base))
        for name in FACETS
        for value in state.selected(name)
    ]
    for named in result.names if result else ():
        if named.value not in state.selected(named.facet):
            chips.append(
                Chip(
                    LABELS[named.facet],
                    named.value,
                    state.without_name(named.text).url(base),
                    as_text_url=state.with_options(names=False).url(base),
                    typed=named.text,
                )
            )
    return chips


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None stands for a gap ("…")
    url: str = ""
    current: bool = False


@dataclass(frozen=True)
class Pagination:
    page: int
    pages: int
    first: int  # 1-based rank of the first hit shown
    last: int
    prev_url: str | None
    next_url: str | None
    links: list[PageLink]


def pagination(result: SearchResult, state: SearchState, base: str, window: int = 2) -> Pagination:
    """Return the previous/next links and the page numbers around the current page."""
    page, pages = result.page, result.pages
    shown = sorted({1, pages, *range(max(1, page - window), min(pages, page + window) + 1)})
    links: list[PageLink] = []
    for number in shown:
        if links and links[-1].number is not None and number > links[-1].number + 1:
            links.append(PageLink(None))
        links.append(PageLink(number, state.at_page(number).url(base), number == page))
    first = (page - 1) * result.per_page + 1 if result.hits else 0
    return Pagination(
        page=page,
        pages=pages,
        first=first,
        last=first + len(result.hits) - 1 if result.hits else 0,
        prev_url=state.at_page(page - 1).url(base) if page > 1 else None,
        next_url=state.at_page(page + 1).url(base) if page < pages else None,
        links=links,
    )


@dataclass(frozen=True)
class HitSection:
    """The hits of one page that share how they match: every word, or some of them."""

    kind: str  # "all", "partial", or "plain" when the page makes no difference
    title: str | None
    start: int  # the rank of its first hit, for the list's numbering
    hits: list = field(default_factory=list)  # (hit, url of its page)


def hit_sections(result: SearchResult, hits: list, start: int) -> list[HitSection]:
    """Split a page of hits into the items holding every word and those holding some.

    A query taken literally, or one whose every hit holds every word, is one plain section.
    """
    if not result.graded or result.total == result.total_all:
        return [HitSection("plain", None, start, hits)] if hits else []
    words = len(result.words)
    full = [(hit, url) for hit, url in hits if hit.matched == "all"]
    related = [(hit, url) for hit, url in hits if hit.matched != "all" and _holds_none(hit, words)]
    partial = [(h, u) for h, u in hits if h.matched != "all" and not _holds_none(h, words)]
    some = result.total - result.total_all - result.total_related
    sections = []
    for kind, title, members in (
        ("all", f"すべての語を含む項目 {result.total_all}件", full),
        ("partial", f"一部の語を含む項目 {some}件", partial),
        ("related", f"検索語は含まないが話題の近い項目 {result.total_related}件", related),
    ):
        if members:
            sections.append(HitSection(kind, title, start, members))
            start += len(members)
    return sections


def _holds_none(hit, words: int) -> bool:
    return len(hit.missing) == words and not hit.in_part


@dataclass(frozen=True)
class MatchOptions:
    """What the page says about how it matched the query, with the links that change it."""

    words: tuple[str, ...]
    expansions: list[tuple[str, str]]  # (word, its synonyms joined for reading)
    respelled: tuple[tuple[str, str], ...]  # kana typed → the indexed words searched
    only_full_url: str | None  # list only the items holding every word
    any_url: str | None  # back from that to every item holding some word
    without_expansions_url: str | None
    with_expansions_url: str | None


def match_options(result: SearchResult, state: SearchState, base: str) -> MatchOptions:
    """Return the words searched, their expansions and the links that change the matching."""
    partial = result.graded and result.total_all < result.total and result.total_all > 0
    return MatchOptions(
        words=result.words,
        expansions=[(e.word, "、".join(e.with_)) for e in result.expansions],
        respelled=result.respelled,
        only_full_url=state.with_options(match="all").url(base) if partial else None,
        any_url=state.with_options(match="any").url(base) if state.match == "all" else None,
        without_expansions_url=(
            state.with_options(expand=False).url(base) if result.expansions else None
        ),
        with_expansions_url=None if state.expand else state.with_options(expand=True).url(base),
    )
