"""Related policies: the items most alike in content, other departments first.

Whoosh's more-like-this, over the item's analysed content words: the key terms of the item's text
are weighed with Whoosh's Bo1 expansion model, boilerplate (推進, 検討, 事業, ... and whatever
stands in more than a tenth of the items) is weighed down, and the index is searched with them.
Items of other departments come first, at most a few from each, since the point is to find who
else works on the same thing; the item's own department only fills the list up.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

from whoosh import query as wq
from whoosh.classify import Expander

from indexer.analysis import japanese_analyzer
from indexer.generic import GENERIC_WORDS
from indexer.query import Word
from indexer.search import Hit, make_hit
from indexer.vocabulary import CACHED_GENERATIONS

FIELD = "text"
CONTENT_POS = frozenset({"名詞", "形状詞"})
# Generic words (indexer.generic); on top of these, any term in > COMMON_SHARE of the items.
BOILERPLATE = GENERIC_WORDS
COMMON_SHARE = 0.1
BOILERPLATE_WEIGHT = 0.1
KEY_TERMS = 12
PER_DEPARTMENT = 2  # other departments' items shown before a third from the same one
MIN_SHARE = 0.15  # of the best score: below it an item shares only boilerplate
DEFAULT_LIMIT = 6
RESTATED = re.compile(r"【再掲】|\s")

_analyzer = japanese_analyzer()
_common: dict[str, frozenset[str]] = {}
_common_lock = threading.Lock()


def common_terms(snapshot) -> frozenset[str]:
    """Return the terms in more than COMMON_SHARE of the items, plus BOILERPLATE.

    Kept by index generation, like the vocabulary: a rebuild changes the frequencies.
    """
    terms = _common.get(snapshot.target)
    if terms is None:
        searcher = snapshot.searcher
        most = searcher.doc_count_all() * COMMON_SHARE
        frequent = {
            term.decode() if isinstance(term, bytes) else term
            for term in searcher.lexicon(FIELD)
            if searcher.doc_frequency(FIELD, term) > most
        }
        terms = frozenset(frequent | BOILERPLATE)
        with _common_lock:
            while len(_common) >= CACHED_GENERATIONS:
                _common.pop(next(iter(_common)))
            _common[snapshot.target] = terms
    return terms


def key_terms(snapshot, text: str, number: int = KEY_TERMS) -> list[tuple[str, float]]:
    """Return the content words that characterise `text`, with weights, heaviest first."""
    counts = Counter(
        token.text
        for token in _analyzer(text)
        if token.part_of_speech in CONTENT_POS and len(token.text) > 1 and not token.text.isdigit()
    )
    expander = Expander(snapshot.searcher.reader(), FIELD)
    expander.add(counts.items())
    common = common_terms(snapshot)
    weighed = [
        (term, weight * (BOILERPLATE_WEIGHT if term in common else 1.0))
        for term, weight in expander.expanded_terms(number * 2, normalize=False)
    ]
    weighed.sort(key=lambda pair: (-pair[1], pair[0]))
    return weighed[:number]


def related_items(index, item_id: str, limit: int = DEFAULT_LIMIT) -> list[Hit] | None:
    """Return the items most like `item_id`, other departments first; None if there is no item.

    Each hit's score is Whoosh's score for the key-term query, and its highlight marks the key
    terms it shares with the item. The item itself and its restatements (【再掲】) are left out.

    :param index: a `PolicyIndex`
    """
    snapshot = index.current()
    docnum = snapshot.by_id.get(item_id)
    if docnum is None:
        return None
    stored = snapshot.searcher.stored_fields(docnum)
    terms = key_terms(snapshot, stored["text"])
    if not terms:
        return []
    query = wq.Or([wq.Term(FIELD, term, boost=weight) for term, weight in terms])
    results = snapshot.searcher.search(query, limit=None, mask={docnum})
    scored = [(hit.docnum, hit.score) for hit in results]
    if not scored:
        return []
    best = max(score for _, score in scored)
    order = snapshot.columns["order"]
    scored.sort(key=lambda pair: (-pair[1], order[pair[0]]))
    department, same_text = stored["department"], RESTATED.sub("", stored["text"])
    chosen, rest, per_department = [], [], Counter()
    for other, score in scored:
        fields = snapshot.searcher.stored_fields(other)
        if score < best * MIN_SHARE or RESTATED.sub("", fields["text"]) == same_text:
            continue
        other_department = fields["department"]
        if other_department != department and per_department[other_department] < PER_DEPARTMENT:
            per_department[other_department] += 1
            chosen.append((fields, score))
        else:
            rest.append((fields, score))
    common = common_terms(snapshot)
    words = [Word((term,), frozenset({term})) for term, _ in terms if term not in common]
    return [make_hit(fields, score, words) for fields, score in (chosen + rest)[:limit]]
