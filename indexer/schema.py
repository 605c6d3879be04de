"""The Whoosh schema of the policy index."""

from __future__ import annotations

from collections.abc import Iterator

from whoosh.analysis import Composable, LowercaseFilter, Token
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema

from indexer.analysis import SudachiTokenizer, japanese_analyzer, reading_analyzer

FACETS = ("department", "category", "column")
EXACT_FIELD = "exact"
SCORED_FIELDS = ("text", "reading")  # the exact field only filters (quoted phrases)

# Numbers are read from columns and stored fields, at most looked up by value, never by range:
# one term per value rather than Whoosh's eight tiers keeps a fifth of the postings out.
SHIFT_STEP = 0


class ShortUnitFilter(Composable):
    """Keep every short unit but white space, particles and symbols included, side by side.

    These are the units a quoted phrase must match one for one (``exact_units`` in
    indexer.analysis), so the index answers "…" without analysing the matches again.

    >>> analyzer = SudachiTokenizer() | ShortUnitFilter()
    >>> [(t.text, t.pos) for t in analyzer("個人情報の 保護・活用", positions=True)]
    [('個人', 0), ('情報', 1), ('の', 2), ('保護', 3), ('・', 4), ('活用', 5)]
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        position = 0
        for token in tokens:
            if token.fine and token.part_of_speech != "空白":
                if token.positions:
                    token.pos = position
                position += 1
                yield token


def exact_analyzer():
    """Return the analyzer of the exact field.

    >>> [t.text for t in exact_analyzer()("ＤＸの推進")]
    ['dx', 'の', '推進']
    """
    return SudachiTokenizer() | ShortUnitFilter() | LowercaseFilter()


def policy_schema() -> Schema:
    """Return the schema: analysed text with positions, facet fields and document order.

    >>> sorted(policy_schema().names())[:4]
    ['category', 'column', 'department', 'department_no']
    """
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),  # a column: read at once when opened
        document=ID(stored=True),
        fiscal_year=NUMERIC(int, stored=True, sortable=True, shift_step=SHIFT_STEP),
        department_no=NUMERIC(int, stored=True, sortable=True, shift_step=SHIFT_STEP),
        department=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        column=ID(stored=True, sortable=True),
        position=NUMERIC(int, stored=True, shift_step=SHIFT_STEP),
        order=NUMERIC(int, stored=True, sortable=True, shift_step=SHIFT_STEP),
        text=TEXT(analyzer=japanese_analyzer(), stored=True, phrase=True),
        reading=TEXT(analyzer=reading_analyzer(), phrase=False),
        exact=TEXT(analyzer=exact_analyzer(), phrase=True),
        line=STORED(),
    )
