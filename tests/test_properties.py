"""Property tests: no string breaks the analyzer, the search function or the highlighter."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.highlight import highlight
from indexer.query import parse_query
from indexer.search import UnknownFilter

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Whoosh query syntax, our operators and Japanese text mixed with anything at all.
pieces = st.sampled_from(
    ["防災", "ＤＸ", "OR", "AND", "NOT", "-", '"', "(", ")", "*", "?", ":", "^", "~", "[a TO",
     "text:", "\u3000", "\x00", "😀", "ほいく", "<script>", "&amp;", "P D C A", " "]
)  # fmt: skip
queries = st.one_of(st.text(), st.lists(st.one_of(pieces, st.text(max_size=3))).map("".join))
MARKUP = re.compile(r"<[^>]*>")


@SETTINGS
@given(query=queries)
def test_search_never_raises_on_any_query(policy_index, query):
    result = policy_index.search(query, per_page=5)
    assert result.total >= len(result.hits)
    for hit in result.hits:
        assert set(MARKUP.findall(hit.highlight)) <= {"<mark>", "</mark>"}


@SETTINGS
@given(query=queries, departments=st.lists(st.text(max_size=8), max_size=3))
def test_unknown_filters_are_the_only_error(policy_index, query, departments):
    known = set(policy_index.facet_values("department"))
    try:
        result = policy_index.search(query, departments=departments)
    except UnknownFilter as error:
        assert set(error.values) == {d for d in departments if d and d not in known}
        assert error.values
    else:
        wanted = [d for d in departments if d]  # an empty value is no filter
        assert not wanted or all(hit.department in wanted for hit in result.hits)


@SETTINGS
@given(text=st.text(), query=queries)
def test_highlight_only_adds_mark_and_escapes_the_rest(text, query):
    words = parse_query(query).positive_words
    marked = highlight(text, words)
    assert set(MARKUP.findall(marked)) <= {"<mark>", "</mark>"}
    plain = marked.replace("<mark>", "").replace("</mark>", "")
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert plain == escaped.replace('"', "&quot;").replace("'", "&#x27;")
