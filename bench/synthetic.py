"""Write a synthetic corpus N times the seed's size, recombined from the seed's own sentences.

The shelf the product is meant for holds the same kind of document year after year, from more
departments than one year has. A synthetic corpus is that shelf: documents of the seed's shape
(``N. 部名`` headings, the 施策/改革/人材育成・活用 table, a plan section of ``- `` bullets) with a
manifest, so that it goes through the real parser and build.

* **Documents.** ``round(scale)`` documents (at least one), each one fiscal year: 2023 going back
  fifty years, then round again (a later round is another edition of that year's document).
  Below 1× there is one document with fewer departments.
* **Departments.** Each document numbers 20 departments drawn from a pool of the seed's 20 and
  12 more, each of which takes its sentences from two seed departments (防災まちづくり部 from
  危機管理部 and 都市整備部). So a department keeps its own vocabulary and the department facet
  stays as skewed as in the seed.
* **Items.** Each cell (row × column) has as many items as the same cell of a seed department
  the department draws from. Each item takes a real item of that cell as its template, cuts it
  into pieces (after each 、, の, を and や) and replaces each piece, with even odds, by a piece
  from the same place (inner or last) of a real item of the same cell and source departments.
  Every word and its frequency per cell and department, and the items' lengths, stay those of
  real text; the combinations are new (two thirds of the items of 100× are distinct texts).
* **Deterministic.** One ``random.Random(seed)``; the same scale and seed write the same bytes.

The vocabulary does not grow with the corpus (every word is a seed word): posting lists grow
linearly with size, which is the pessimistic case for query time, while the term dictionary
stays the seed's size.
"""

from __future__ import annotations

import random
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.corpus import PLAN_COLUMN, PolicyItem, load_corpus
from indexer.synonyms import CURATED

DEPARTMENTS_PER_DOCUMENT = 20
YEARS = 50
LATEST_YEAR = 2023
ROWS = ("施策", "改革", "人材育成・活用")
TABLE_COLUMNS = ("経営方針", "重点目標")
# Departments a larger city (or a later reorganisation) has: each speaks like two seed ones.
EXTRA_DEPARTMENTS = {
    "デジタル推進部": ("政策経営部", "総務部"),
    "防災まちづくり部": ("危機管理部", "都市整備部"),
    "文化スポーツ部": ("区民文化部", "地域教育力推進担当部"),
    "環境政策部": ("資源環境部", "土木部"),
    "高齢者福祉部": ("健康生きがい部", "福祉部"),
    "子育て支援部": ("子ども家庭部", "子ども家庭総合支援センター"),
    "産業観光部": ("産業経済部", "区民文化部"),
    "健康推進部": ("保健所", "健康生きがい部"),
    "学校教育部": ("教育委員会事務局", "地域教育力推進担当部"),
    "財務部": ("政策経営部", "会計管理室"),
    "住宅政策部": ("都市整備部", "まちづくり推進室"),
    "区民協働部": ("区民文化部", "総務部"),
}
# A piece ends after a comma, or after の, を or や with more words to come.
CLAUSE_END = re.compile(r"(?<=、)|(?<=[のをや])(?=[^\sのをや、。）」])")


@dataclass(frozen=True)
class SyntheticCorpus:
    path: Path
    documents: int
    items: int
    departments: int


def clauses(text: str) -> list[str]:
    """Cut an item's text into the pieces it is recombined from: after each 、, の, を and や.

    >>> clauses("防災訓練を実施し、地域の防災力を高めます。")
    ['防災訓練を', '実施し、', '地域の', '防災力を', '高めます。']
    >>> clauses("防災ガイドの更新")
    ['防災ガイドの', '更新']
    """
    return [part for part in CLAUSE_END.split(text) if part]


class _Recombiner:
    """The seed's items by department and cell, and the pieces to recombine them from."""

    def __init__(self, items: Sequence[PolicyItem], rng: random.Random):
        self.rng = rng
        self.items: dict[tuple[str, str, str], list[PolicyItem]] = defaultdict(list)
        self.counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
        for item in items:
            row = item.category if item.column != PLAN_COLUMN else "plan"
            self.items[(item.department, row, item.column)].append(item)
            self.counts[item.department][(row, item.column)] += 1
        self.sources = {name: (name,) for name in dict.fromkeys(i.department for i in items)}
        self.sources.update(EXTRA_DEPARTMENTS)

    def cell(self, department: str, row: str, column: str) -> list[str]:
        """Return the recombined texts of one cell of `department`."""
        sources = self.sources[department]
        size = self.counts[self.rng.choice(sources)][(row, column)]
        pool = [item for source in sources for item in self.items[(source, row, column)]]
        inner = [c for item in pool for c in clauses(item.text)[:-1]]
        final = [clauses(item.text)[-1] for item in pool]
        texts = []
        for _ in range(size):
            parts = clauses(self.rng.choice(pool).text)
            for index in range(len(parts)):
                if self.rng.random() < 0.5:
                    last = index == len(parts) - 1
                    parts[index] = self.rng.choice(final if last or not inner else inner)
            text = "".join(parts)
            # ★ heads a cell's headline item only: keep it at the start or drop it.
            texts.append(text[0] + text[1:].replace("★", "") if text else text)
        return texts


def _document_text(title: str, departments: list[str], recombiner: _Recombiner) -> tuple[str, int]:
    """Return a document's text and the number of items it holds."""
    lines, items = [title, ""], 0
    for number, department in enumerate(departments, 1):
        lines += [f"{number}. {department}", "", "\t" + "\t".join(TABLE_COLUMNS)]
        for row in ROWS:
            cells = [recombiner.cell(department, row, column) for column in TABLE_COLUMNS]
            lines.append(row + "\t" + "\t".join(map(_bullets, cells)))
            items += sum(map(len, cells))
        plan = recombiner.cell(department, "plan", PLAN_COLUMN)
        lines += ["", "*No.1プラン2025改訂に向けて取り組むこと", ""]
        lines += [f"- {text}" for text in plan]
        lines.append("")
        items += len(plan)
    return "\n".join(lines), items


def _bullets(texts: list[str]) -> str:
    return " ".join(text if text.startswith("★") else f"○ {text}" for text in texts)


def _era(year: int) -> str:
    return f"令和{year - 2018}年度" if year >= 2019 else f"平成{year - 1988}年度"


def write_synthetic_corpus(
    seed_dir: Path | str, out_dir: Path | str, scale: float, seed: int = 1
) -> SyntheticCorpus:
    """Write a corpus of about `scale` times the seed's items into `out_dir`, with a manifest."""
    seed_items = load_corpus(seed_dir)
    rng = random.Random(seed)
    recombiner = _Recombiner(seed_items, rng)
    pool = list(recombiner.sources)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    documents = max(1, round(scale))
    per_document = DEPARTMENTS_PER_DOCUMENT
    if scale < 1:
        per_document = max(1, round(DEPARTMENTS_PER_DOCUMENT * scale))
    items, used = 0, set()
    manifest = ["# A synthetic corpus written by bench/synthetic.py: not real documents.", ""]
    for number in range(documents):
        year = LATEST_YEAR - number % YEARS
        edition = number // YEARS
        title = f"{_era(year)} 各部の経営方針（合成 第{edition + 1}版）"
        departments = rng.sample(pool, per_document)
        departments.sort(key=pool.index)
        name = f"syn-{number:04d}.txt"
        text, count = _document_text(title, departments, recombiner)
        (out_dir / name).write_text(text, encoding="utf-8")
        items += count
        used.update(departments)
        manifest += [
            "[[document]]",
            f'id = "syn-{year}-{edition + 1}"',
            f'title = "{title}"',
            'issuer = "板橋区"',
            f"fiscal_year = {year}",
            f'file = "{name}"',
            "",
        ]
    (out_dir / "manifest.toml").write_text("\n".join(manifest), encoding="utf-8")
    if (Path(seed_dir) / CURATED).exists():  # the same curated synonyms as the seed
        shutil.copyfile(Path(seed_dir) / CURATED, out_dir / CURATED)
    return SyntheticCorpus(out_dir, documents, items, len(used))
