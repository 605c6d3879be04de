"""The Whoosh schema of the policy index."""

from __future__ import annotations

from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema

from indexer.analysis import japanese_analyzer, reading_analyzer

FACETS = ("department", "category", "column")


def policy_schema() -> Schema:
    """Return the schema: analysed text with positions, facet fields and document order.

    >>> sorted(policy_schema().names())[:4]
    ['category', 'column', 'department', 'department_no']
    """
    return Schema(
        id=ID(stored=True, unique=True),
        document=ID(stored=True),
        fiscal_year=NUMERIC(int, stored=True, sortable=True),
        department_no=NUMERIC(int, stored=True, sortable=True),
        department=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        column=ID(stored=True, sortable=True),
        position=NUMERIC(int, stored=True),
        order=NUMERIC(int, stored=True, sortable=True),
        text=TEXT(analyzer=japanese_analyzer(), stored=True, phrase=True),
        reading=TEXT(analyzer=reading_analyzer(), phrase=False),
        line=STORED(),
    )
