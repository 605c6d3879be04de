"""Pseudo-relevance feedback: the topic of a query's best items finds items in other words.

A person asking 介護予防の取り組み also wants the items on フレイル予防 and 高齢者の健康づくり,
which hold neither word. The content words that characterise the best few items (Whoosh's Bo1
expansion model, generic words left out) are searched for, and each item gets a topic
similarity from 0 to 1 that graded matching (indexer.graded) counts as one more, lighter word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from whoosh.classify import Expander
from whoosh.query import Or, Term
from whoosh.searching import Searcher

from indexer.analysis import japanese_analyzer
from indexer.generic import is_generic
from indexer.scoring import Matching

FIELD = "text"
CONTENT_POS = frozenset({"名詞", "形状詞"})
SEEDS = 3  # the best items whose topic is taken
MIN_SEED_COVERAGE = 0.5  # an item covering less of the query says little about its topic
TOPIC_TERMS = 8
COMMON_SHARE = 0.1  # a term in more items than this says nothing about a topic
MIN_SIMILARITY = 0.15  # of the best topic score: below it an item shares only a stray word

_analyzer = japanese_analyzer()


def topic_terms(
    searcher: Searcher, texts: Iterable[str], known: frozenset[str]
) -> list[tuple[str, float]]:
    """Return the terms characterising `texts`, weighted, leaving out `known` and generic ones."""
    most = searcher.doc_count_all() * COMMON_SHARE
    counts = Counter(
        token.text
        for text in texts
        for token in _analyzer(text)
        if token.part_of_speech in CONTENT_POS
        and len(token.text) > 1
        and not token.text.isdigit()
        and token.text not in known
        and not is_generic(token.text)
    )
    counts = Counter(
        {t: n for t, n in counts.items() if searcher.doc_frequency(FIELD, t) <= most}
    )
    if not counts:
        return []
    expander = Expander(searcher.reader(), FIELD)
    expander.add(counts.items())
    return [
        (term, weight)
        for term, weight in expander.expanded_terms(TOPIC_TERMS * 2, normalize=True)
        if term in counts
    ][:TOPIC_TERMS]


def topic_similarity(matching: Matching, terms: list[tuple[str, float]]) -> dict[int, float]:
    """Return each item's similarity to the topic terms, from 0 to 1 (the best item: 1)."""
    if not terms:
        return {}
    query = Or([Term(FIELD, term, boost=weight) for term, weight in terms])
    scores = matching.scores(query)
    best = max(scores.values(), default=0.0)
    if not best:
        return {}
    return {d: s / best for d, s in scores.items() if s >= best * MIN_SIMILARITY}
