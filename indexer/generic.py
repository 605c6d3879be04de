"""Words that stand in nearly every policy item and so say little about what one is about.

Related items weigh them down in an item's key terms, and graded matching weighs them down in a
query (介護予防の取り組み is mostly about 介護予防). Sudachi's normalized forms (取組 → 取り組み).
"""

from __future__ import annotations

GENERIC_WORDS = frozenset(
    {
        "推進", "検討", "実施", "強化", "充実", "取り組み", "向上", "区", "事業", "図る",
        "行う", "進める", "踏まえる", "板橋", "板橋区", "いたばし", "区民", "令和",
        "策定", "更新", "改善", "促進", "展開", "確保", "見直し", "着実", "方法", "内容",
        "状況", "取る", "組む", "為る", "目指す", "努める", "機会", "在り方", "あり方", "支援",
        "対応", "対策", "備え", "実現", "活用", "整備", "方策", "施策", "必要", "様々", "多様",
        "有る方",
    }
)  # fmt: skip
GENERIC_WEIGHT = 0.25  # of a word's weight in a query


def is_generic(term: str) -> bool:
    """Tell whether a normalized term is one of the generic words.

    >>> is_generic("取り組み"), is_generic("防災")
    (True, False)
    """
    return term in GENERIC_WORDS
