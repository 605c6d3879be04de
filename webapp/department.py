"""A department's items laid out as the document's table, as plain data for the template."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.corpus import PLAN_COLUMN


@dataclass
class DepartmentTable:
    """One document's table for one department: rows by category, cells by column."""

    document: str
    fiscal_year: int
    columns: list[str] = field(default_factory=list)  # 経営方針, 重点目標
    rows: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # category → column
    plan_title: str = ""  # the category of the plan-revision list
    plan: list[dict] = field(default_factory=list)

    @property
    def size(self) -> int:
        cells = sum(len(items) for row in self.rows.values() for items in row.values())
        return cells + len(self.plan)


def department_tables(items: list[dict]) -> list[DepartmentTable]:
    """Lay out a department's items (stored fields, in document order), one table per document.

    >>> item = {"document": "r5", "fiscal_year": 2023, "category": "施策", "text": "x"}
    >>> tables = department_tables([
    ...     {**item, "column": "経営方針"},
    ...     {**item, "column": "重点目標"},
    ...     {**item, "category": "No.1プラン2025改訂", "column": "取り組むこと"},
    ... ])
    >>> [(t.columns, list(t.rows), t.plan_title, len(t.plan)) for t in tables]
    [(['経営方針', '重点目標'], ['施策'], 'No.1プラン2025改訂', 1)]
    """
    tables: dict[str, DepartmentTable] = {}
    for item in items:
        table = tables.get(item["document"])
        if table is None:
            table = tables[item["document"]] = DepartmentTable(
                item["document"], item["fiscal_year"]
            )
        if item["column"] == PLAN_COLUMN:
            table.plan_title = table.plan_title or item["category"]
            table.plan.append(item)
            continue
        if item["column"] not in table.columns:
            table.columns.append(item["column"])
        table.rows.setdefault(item["category"], {}).setdefault(item["column"], []).append(item)
    return list(tables.values())
