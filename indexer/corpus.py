"""Read the corpus manifest and parse each document into policy items."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = "manifest.toml"

ROW_LABELS = {"施策": "shisaku", "改革": "kaikaku", "人材育成・活用": "jinzai"}
COLUMN_CODES = {"経営方針": "hoshin", "重点目標": "mokuhyo", "取り組むこと": "torikumi"}
PLAN_COLUMN = "取り組むこと"
PLAN_CODE = "plan"

HEADING = re.compile(r"^(\d+)\.\s*(\S.*)$")
SECTION = re.compile(r"^\*\s*(.+?)\s*に向けて\s*取り組むこと\s*$")
TABLE_SEPARATOR = re.compile(r"^\|[\s|:-]*\|$")
TAG = re.compile(r"<[^>]*>")
SPACE = re.compile(r"\s+")
# ○ is a list bullet and is dropped; ★ marks a cell's headline item and stays in its text.
BULLET = re.compile(r"○|(?=★)")
DOCUMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CorpusError(Exception):
    """A corpus file does not follow the expected shape; names the file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    issuer: str
    fiscal_year: int
    path: Path


@dataclass(frozen=True)
class PolicyItem:
    id: str
    document: str
    fiscal_year: int
    department_no: int
    department: str
    category: str
    column: str
    position: int
    text: str
    line: int
    order: int = 0

    def as_record(self) -> dict:
        record = asdict(self)
        del record["line"]
        return record


def read_manifest(corpus_dir: Path | str) -> list[Document]:
    """Return the documents the manifest in `corpus_dir` lists, checking each file exists."""
    corpus_dir = Path(corpus_dir)
    path = corpus_dir / MANIFEST
    if not path.is_file():
        raise CorpusError(path, None, "manifest not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CorpusError(path, None, f"not a valid TOML manifest ({error})") from None
    entries = data.get("document")
    if not isinstance(entries, list) or not entries:
        raise CorpusError(path, None, "the manifest lists no [[document]]")
    documents, seen = [], set()
    for number, entry in enumerate(entries, 1):
        where = f"[[document]] #{number}"
        missing = [k for k in ("id", "title", "issuer", "fiscal_year", "file") if k not in entry]
        if missing:
            raise CorpusError(path, None, f"{where} lacks {', '.join(missing)}")
        if not DOCUMENT_ID.match(str(entry["id"])) or entry["id"] in seen:
            raise CorpusError(path, None, f"{where}: id {entry['id']!r} is not a unique slug")
        if not isinstance(entry["fiscal_year"], int):
            raise CorpusError(path, None, f"{where}: fiscal_year must be a number like 2023")
        file = corpus_dir / entry["file"]
        if not file.is_file():
            raise CorpusError(path, None, f"{where}: file {entry['file']!r} is missing")
        seen.add(entry["id"])
        documents.append(
            Document(entry["id"], entry["title"], entry["issuer"], entry["fiscal_year"], file)
        )
    return documents


def load_corpus(corpus_dir: Path | str) -> list[PolicyItem]:
    """Parse every document of the corpus into items, numbered in reading order."""
    items = []
    for document in read_manifest(corpus_dir):
        items.extend(parse_document(document))
    return [_replace_order(item, order) for order, item in enumerate(items)]


def _replace_order(item: PolicyItem, order: int) -> PolicyItem:
    return PolicyItem(**{**asdict(item), "order": order})


def clean_text(text: str) -> str:
    """Remove markup and collapse runs of white space.

    >>> clean_text('<ul style="x"> 子育て   支援 ')
    '子育て 支援'
    """
    return SPACE.sub(" ", TAG.sub(" ", text)).strip()


def split_bullets(cell: str) -> list[str]:
    """Split a table cell into its ○/★ items.

    >>> split_bullets('<ul> ○ 防災の推進 ○ DXの推進')
    ['防災の推進', 'DXの推進']
    """
    parts = BULLET.split(clean_text(cell))
    if parts[0].strip():
        raise ValueError(f"text before the first ○: {parts[0].strip()[:30]!r}")
    return [clean_text(part) for part in parts[1:] if clean_text(part)]


def read_lines(path: Path) -> list[str]:
    """Return the lines of a UTF-8 file, failing with the line of the first undecodable byte."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise CorpusError(path, line, "not UTF-8 text") from None
    return text.splitlines()


def parse_document(document: Document) -> list[PolicyItem]:
    """Parse one department-table document into policy items."""
    return list(_DocumentParser(document).items())


class _DocumentParser:
    def __init__(self, document: Document):
        self.document = document
        self.department_no = 0
        self.department: str | None = None
        self.columns: list[str] | None = None
        self.section: str | None = None
        self.section_position = 0
        self.line = 0

    def fail(self, message: str) -> None:
        raise CorpusError(self.document.path, self.line, message)

    def items(self) -> Iterator[PolicyItem]:
        for number, raw in enumerate(read_lines(self.document.path), 1):
            self.line, line = number, raw.strip()
            if not line:
                continue
            if heading := HEADING.match(line):
                self.start_department(int(heading[1]), heading[2].strip())
            elif self.department is None:
                if "\t" in raw or line.startswith(("-", "*", "|", "<")):
                    self.fail("a row before any department heading")
                # Anything else before the first heading is the document's title block.
            elif section := SECTION.match(line):
                self.section = SPACE.sub("", section[1])
                self.section_position = 0
            elif line.startswith("*"):
                self.fail(f"unknown section heading {line[:40]!r}")
            elif self.section is not None:
                yield from self.section_line(line)
            else:
                yield from self.table_line(raw)
        if self.department_no == 0:
            self.line = 0
            self.fail("no department heading found")

    def start_department(self, number: int, name: str) -> None:
        if number != self.department_no + 1:
            self.fail(
                f"heading number {number} out of sequence (expected {self.department_no + 1})"
            )
        self.department_no, self.department = number, name
        self.columns, self.section = None, None

    def table_line(self, raw: str) -> Iterator[PolicyItem]:
        cells = raw.rstrip("\r\n").split("\t")
        label = cells[0].strip()
        if not label:
            names = [cell.strip() for cell in cells[1:]]
            unknown = [name for name in names if name not in COLUMN_CODES]
            if unknown or not names:
                self.fail(f"unknown column header {unknown or names}")
            self.columns = names
            return
        if label not in ROW_LABELS:
            self.fail(f"unknown row label {label!r} (expected one of {', '.join(ROW_LABELS)})")
        if self.columns is None:
            self.fail(f"row {label!r} before the column header row")
        if len(cells) - 1 != len(self.columns):
            self.fail(f"row {label!r} has {len(cells) - 1} cells for {len(self.columns)} columns")
        for column, cell in zip(self.columns, cells[1:], strict=True):
            for position, text in enumerate(self.bullets(cell, f"{label}/{column}"), 1):
                yield self.item(label, ROW_LABELS[label], column, position, text)

    def section_line(self, line: str) -> Iterator[PolicyItem]:
        if TABLE_SEPARATOR.match(line):
            return
        if line.startswith("|"):
            cells = [cell for cell in line.strip("|").split("|") if cell.strip()]
            texts = [text for cell in cells for text in self.bullets(cell, "table")]
        elif line.startswith("-"):
            body = line[1:].strip()
            if not body.strip("| "):
                return  # the empty header row of a markdown table written as a bullet
            texts = [clean_text(body)]
        else:
            self.fail(f"unexpected line in section {self.section!r}: {line[:30]!r}")
        for text in texts:
            self.section_position += 1
            yield self.item(self.section, PLAN_CODE, PLAN_COLUMN, self.section_position, text)

    def bullets(self, cell: str, where: str) -> list[str]:
        try:
            texts = split_bullets(cell)
        except ValueError as error:
            self.fail(f"{where}: {error}")
        if not texts:
            self.fail(f"{where}: a cell with no ○ items")
        return texts

    def item(self, category: str, code: str, column: str, position: int, text: str) -> PolicyItem:
        doc = self.document
        item_id = f"{doc.id}-{self.department_no:02d}-{code}-{COLUMN_CODES[column]}-{position:02d}"
        return PolicyItem(
            id=item_id,
            document=doc.id,
            fiscal_year=doc.fiscal_year,
            department_no=self.department_no,
            department=self.department,
            category=category,
            column=column,
            position=position,
            text=text,
            line=self.line,
        )
