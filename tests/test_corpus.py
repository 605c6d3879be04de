"""The parser: exact counts and fields on the seed, a second document, and bad input."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest

from indexer.corpus import CorpusError, clean_text, load_corpus, split_bullets
from tests.conftest import CORPUS, FIXTURES

SEED = CORPUS / "itabashi-r5-keiei-hoshin.txt"

PER_DEPARTMENT = {
    "政策経営部": 19, "総務部": 29, "危機管理部": 27, "区民文化部": 27, "産業経済部": 21,
    "健康生きがい部": 19, "保健所": 27, "福祉部": 24, "子ども家庭部": 35,
    "子ども家庭総合支援センター": 24, "資源環境部": 24, "都市整備部": 25,
    "まちづくり推進室": 20, "土木部": 22, "会計管理室": 18, "教育委員会事務局": 38,
    "地域教育力推進担当部": 27, "選挙管理委員会事務局": 15, "監査委員事務局": 18,
    "区議会事務局": 16,
}  # fmt: skip

PER_CATEGORY_COLUMN = {
    ("施策", "経営方針"): 59, ("施策", "重点目標"): 131,
    ("改革", "経営方針"): 48, ("改革", "重点目標"): 80,
    ("人材育成・活用", "経営方針"): 45, ("人材育成・活用", "重点目標"): 67,
    ("No.1プラン2025改訂", "取り組むこと"): 45,
}  # fmt: skip


def test_seed_yields_475_items_over_20_departments(seed_items):
    assert len(seed_items) == 475
    assert Counter(item.department for item in seed_items) == PER_DEPARTMENT
    assert list(dict.fromkeys(item.department for item in seed_items)) == list(PER_DEPARTMENT)


def test_counts_per_category_and_column(seed_items):
    assert Counter((item.category, item.column) for item in seed_items) == PER_CATEGORY_COLUMN


def test_every_bullet_of_the_seed_is_exactly_one_item(seed_items):
    """Count ○, ★ and '- ' bullets in the raw text, department by department, independently."""
    raw = SEED.read_text(encoding="utf-8")
    sections = re.split(r"^\d+\. .*$", raw, flags=re.MULTILINE)[1:]
    bullets = []
    for section in sections:
        texts = re.findall(r"[○★]([^○★\t|\n]*)", section)
        texts += re.findall(r"^- (?!\|)(.*)$", section, flags=re.MULTILINE)
        bullets.append(sorted(clean_text(t) for t in texts))
    by_department = [
        sorted(item.text.lstrip("★") for item in seed_items if item.department_no == number)
        for number in range(1, 21)
    ]
    assert [sorted(b.lstrip("★") for b in texts) for texts in bullets] == by_department


def test_first_item_fields_exactly(seed_items):
    first = seed_items[0]
    assert first.as_record() == {
        "id": "r5-keiei-01-shisaku-hoshin-01",
        "document": "r5-keiei",
        "fiscal_year": 2023,
        "department_no": 1,
        "department": "政策経営部",
        "category": "施策",
        "column": "経営方針",
        "position": 1,
        "order": 0,
        "text": "次期基本計画を見据え、中長期的な視点も踏まえながら、いたばしNo.1 実現プラン2025を"
        "改訂するとともに、現計画の着実な実施と改訂に伴う必要な見直しを行い、これらについて"
        "庁内の全体調整を図ります。",
    }


def test_star_line_and_plan_table_items(seed_items):
    star = [item for item in seed_items if item.text.startswith("★")]
    assert [(i.department, i.category, i.column, i.position) for i in star] == [
        ("総務部", "人材育成・活用", "重点目標", 1)
    ]
    assert star[0].text == "★総務部共通の目標（O J Tの取組み）"
    plan = [i for i in seed_items if i.department == "都市整備部" and i.column == "取り組むこと"]
    assert [i.text for i in plan] == [
        "「板橋区都市づくりビジョン」の改定",
        "都市基盤DXの推進",
        "交通政策の推進",
        "美しいまちなみ景観の推進",
        "「板橋区耐震改修促進計画」の改定",
        "分譲マンション適正管理の推進",
        "区営住宅等の管理手法の最適化と集約化",
    ]
    assert [i.position for i in plan] == list(range(1, 8))


def test_text_is_kept_as_written(seed_items):
    texts = [item.text for item in seed_items]
    assert any("P D C A" in t for t in texts)
    assert any("SDG s" in t for t in texts)
    assert not any("<" in t or "○" in t or "  " in t or t != t.strip() for t in texts)


def test_ids_are_unique_stable_and_url_safe(seed_items):
    ids = [item.id for item in seed_items]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    assert [item.id for item in load_corpus(CORPUS)] == ids
    assert [item.order for item in seed_items] == list(range(475))


def test_helpers():
    assert clean_text("<ul x='1'> a \n\t b ") == "a b"
    assert split_bullets("<ul> ○ 一 ○ 二 ★三") == ["一", "二", "★三"]


def test_second_document_gets_its_own_fiscal_year(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    shutil.copy(FIXTURES / "second_year" / "r6.txt", corpus / "r6.txt")
    manifest = (CORPUS / "manifest.toml").read_text(encoding="utf-8")
    manifest += (FIXTURES / "second_year" / "manifest.toml").read_text(encoding="utf-8")
    (corpus / "manifest.toml").write_text(manifest, encoding="utf-8")
    items = load_corpus(corpus)
    assert Counter(item.fiscal_year for item in items) == {2023: 475, 2024: 11}
    second = [item for item in items if item.document == "r6-keiei"]
    assert second[0].id == "r6-keiei-01-shisaku-hoshin-01"
    assert [i.text for i in second if i.department == "子ども家庭部"] == [
        "子育て支援の充実",
        "保育の質の向上",
    ]
    assert items[-1].order == 485


# Each bad input: (what is written, the line the error must name, words the message must hold)
HEADER = "題\n\n1. 危機管理部\n\n\t経営方針\t重点目標\n"
ROW = "施策\t<ul> ○ 防災 \t<ul> ○ 防犯\n"
BAD_INPUTS = {
    "row before heading": (ROW + HEADER, 1, "before any department heading"),
    "unknown row label": (HEADER + "施作\t<ul> ○ 防災 \t<ul> ○ 防犯\n", 6, "unknown row label"),
    "empty cell": (HEADER + "施策\t<ul> ○ 防災 \t<ul> \n", 6, "no ○ items"),
    "heading out of sequence": (HEADER + ROW + "\n3. 福祉部\n", 8, "out of sequence"),
    "text before bullet": (
        HEADER + "施策\t<ul> 前置き ○ 防災 \t<ul> ○ 防犯\n",
        6,
        "before the first",
    ),
    "missing cell": (HEADER + "施策\t<ul> ○ 防災\n", 6, "1 cells for 2 columns"),
    "unknown section": (HEADER + ROW + "*別の節\n", 7, "unknown section"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_documents_name_file_and_line(tmp_path, case):
    text, line, words = BAD_INPUTS[case]
    corpus = write_corpus(tmp_path, text.encode("utf-8"))
    with pytest.raises(CorpusError) as caught:
        load_corpus(corpus)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{corpus / 'doc.txt'}:{line}: ")
    assert words in str(caught.value)


def test_bytes_that_are_not_utf8(tmp_path):
    corpus = write_corpus(tmp_path, HEADER.encode("utf-8") + "施策\t○ 防災".encode("cp932"))
    with pytest.raises(CorpusError, match=r"doc\.txt:6: not UTF-8"):
        load_corpus(corpus)


def test_manifest_entry_whose_file_is_missing(tmp_path):
    corpus = write_corpus(tmp_path, HEADER.encode("utf-8"))
    (corpus / "doc.txt").unlink()
    with pytest.raises(CorpusError, match=r"manifest\.toml: .*file 'doc\.txt' is missing"):
        load_corpus(corpus)


def test_missing_manifest(tmp_path):
    with pytest.raises(CorpusError, match="manifest not found"):
        load_corpus(tmp_path)


def write_corpus(tmp_path, data: bytes):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_bytes(data)
    (corpus / "manifest.toml").write_text(
        '[[document]]\nid = "t"\ntitle = "t"\nissuer = "t"\nfiscal_year = 2023\nfile = "doc.txt"\n',
        encoding="utf-8",
    )
    return corpus
