"""Word vectors for the words no item uses: 空き家 → マンション, 住まい; 老人ホーム → 介護.

chiVe (Works Applications' vectors trained on Sudachi's units, 300 dimensions), as the PyPI
package `ja-ginza` ships it: 20,000 vectors and 480,443 words, each mapped to one of them by
the 64-bit MurmurHash2 spaCy files its strings under. The set-up downloads the wheel (pinned
with its hash in `requirements-vectors.txt`, never committed) and `prepare` turns its two files
into numpy arrays, read memory-mapped by every server process.

A query word that no item holds, and that no synonym list links to one, is searched through the
corpus words nearest to it (cosine ≥ MIN_SIMILARITY, at most MAX_GUESSES; names are neither
asked nor given): graded matching's `guessed` level, below the word itself and never counted as
holding it. Without the arrays the engine runs as before, and `/healthz` says so.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
import msgpack
import numpy as np
from sudachipy import SplitMode

from indexer.dictionary import sudachi_tokenizer
from indexer.generic import is_generic

ROOT = Path(__file__).resolve().parent.parent
WHEEL = ROOT / "vendor" / "ja_ginza-5.3.0-py3-none-any.whl"
VECTORS_DIR = ROOT / "vendor" / "chive"
MEMBERS = "ja_ginza/ja_ginza-5.3.0/vocab/"
MIN_SIMILARITY = 0.55  # below it other topics come (業者 → 会社 0.54, 京都 → 東京 0.52)
MAX_GUESSES = 5
AFFIXES = frozenset({"接頭辞", "接尾辞"})  # 認知 + 症 is a thing; 認知 alone an act
WORDLIKE = re.compile(r"[一-龥々ァ-ヺA-Za-z]")
MASK = 2**64 - 1
log = logging.getLogger(__name__)
MULTIPLIER, SHIFT = 0xC6A4A7935BD1E995, 47


class VectorsError(Exception):
    """The vectors package is missing or not what `prepare` expects; the message says why."""


def string_hash(text: str) -> int:
    """Return spaCy's hash of a string: MurmurHash64A of its UTF-8 bytes, seed 1.

    >>> hex(string_hash("防災"))
    '0xc2dfcff43ca61b24'
    """
    data = text.encode("utf-8")
    h = (1 ^ (len(data) * MULTIPLIER)) & MASK
    whole = len(data) // 8
    for (k,) in struct.iter_unpack("<Q", data[: whole * 8]):
        k = (k * MULTIPLIER) & MASK
        k ^= k >> SHIFT
        k = (k * MULTIPLIER) & MASK
        h = ((h ^ k) * MULTIPLIER) & MASK
    tail = data[whole * 8 :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * MULTIPLIER) & MASK
    h ^= h >> SHIFT
    h = (h * MULTIPLIER) & MASK
    return h ^ (h >> SHIFT)


def prepare(wheel: Path = WHEEL, out: Path = VECTORS_DIR) -> None:
    """Write the wheel's vectors (normalized) and its word → vector map as numpy arrays."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            key2row = msgpack.unpackb(archive.read(MEMBERS + "key2row"), strict_map_key=False)
            vectors = np.load(io.BytesIO(archive.read(MEMBERS + "vectors")))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, msgpack.UnpackException) as error:
        raise VectorsError(f"cannot read the vectors of {wheel}: {error}") from None
    keys = np.fromiter(key2row, dtype=np.uint64, count=len(key2row))
    rows = np.fromiter(key2row.values(), dtype=np.uint16, count=len(key2row))
    order = np.argsort(keys)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.save(partial / "keys.npy", keys[order])
    np.save(partial / "rows.npy", rows[order])
    np.save(partial / "vectors.npy", unit)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)


@dataclass(frozen=True)
class Vectors:
    """The prepared arrays, memory-mapped: a word's unit vector by its spelling."""

    keys: np.ndarray  # sorted string hashes
    rows: np.ndarray  # the vector of each
    vectors: np.ndarray

    @classmethod
    def open(cls, directory: Path = VECTORS_DIR) -> Vectors:
        try:
            arrays = [np.load(directory / f"{n}.npy", mmap_mode="r") for n in ("keys", "rows")]
            vectors = np.load(directory / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError) as error:
            raise VectorsError(f"no word vectors in {directory}: {error}") from None
        if len(arrays[0]) != len(arrays[1]) or int(arrays[1].max()) >= len(vectors):
            raise VectorsError(f"the word vectors in {directory} do not fit together")
        return cls(*arrays, vectors)

    def row(self, text: str) -> int | None:
        key = np.uint64(string_hash(text))  # a Python int this large: searched as floats
        at = int(np.searchsorted(self.keys, key))
        if at < len(self.keys) and self.keys[at] == key:
            return int(self.rows[at])
        return None


@functools.lru_cache(maxsize=4096)
def guessable(text: str) -> bool:
    """Tell that a word names a thing, whose nearest words are near things: common nouns.

    Not a name (京都: its nearest are other names), a verbal noun alone (存在 → 役割; 物価上昇
    is a thing), or Latin letters (to, TO: the vectors' nearest to those are noise).

    >>> guessable("空き家"), guessable("物価上昇"), guessable("認知症"), guessable("京都")
    (True, True, True, False)
    >>> guessable("存在"), guessable("TO")
    (False, False)
    """
    if text.isascii():
        return False
    parts = [m.part_of_speech() for m in sudachi_tokenizer().tokenize(text, SplitMode.A)]
    if not all(pos[1] == "普通名詞" or pos[0] in AFFIXES for pos in parts):
        return False  # a name, or not a noun
    return not (len(parts) == 1 and parts[0][2] == "サ変可能")


@functools.lru_cache(maxsize=4096)
def proper_noun(text: str) -> bool:
    """Tell that a word names a place, a person or a body: its nearest words are other names.

    >>> proper_noun("京都"), proper_noun("舟渡"), proper_noun("商店街")
    (True, True, False)
    """
    return any(m.part_of_speech()[1] == "固有名詞" for m in sudachi_tokenizer().tokenize(text))


def open_vectors(directory: Path | None) -> tuple[Vectors | None, str | None]:
    """Open the prepared vectors once a process; without them, say why (the log, /healthz)."""
    if directory is None:
        return None, "turned off"
    try:
        return _open(Path(directory)), None
    except VectorsError as error:
        log.warning("searching without word vectors: %s (run `make serve` to prepare them)", error)
        return None, str(error)


@functools.lru_cache(maxsize=4)
def _open(directory: Path) -> Vectors:
    return Vectors.open(directory)


class Neighbours:
    """The corpus words nearest to a word no item holds, for one index generation.

    >>> neighbours = Neighbours.of_terms(None, [])
    >>> neighbours.guess("空き家", "空き家")
    ()
    """

    def __init__(self, vectors: Vectors | None, texts: list[str], rows: list[int], keys):
        self.vectors = vectors
        self.texts = texts
        self.known = frozenset(keys)
        self.matrix = vectors.vectors[np.asarray(rows, dtype=np.int64)] if rows else None

    @classmethod
    def of_terms(cls, vectors: Vectors | None, terms) -> Neighbours:
        """Index the whole words of a vocabulary (indexer.vocabulary) that have a vector."""
        texts, rows, keys = [], [], []
        for term in terms:
            keys.append(term.key)
            if vectors is None or not term.whole or not WORDLIKE.search(term.text):
                continue
            if is_generic(term.key) or proper_noun(term.text):
                continue
            row = vectors.row(term.key)
            if row is None:
                row = vectors.row(term.text)
            if row is not None:
                texts.append(term.text)
                rows.append(row)
        return cls(vectors, texts, rows, keys)

    def holds(self, key: str) -> bool:
        """Tell that some item holds the word of this key."""
        return key in self.known

    def guess(self, key: str, text: str) -> tuple[str, ...]:
        """Return the corpus words nearest to a word that no item holds (none for one held)."""
        if self.matrix is None or key in self.known or not guessable(text):
            return ()
        row = self.vectors.row(key)
        if row is None and text != key:
            row = self.vectors.row(text)
        if row is None:
            return ()
        similarity = self.matrix @ np.asarray(self.vectors.vectors[row])
        best = np.argsort(-similarity, kind="stable")[: MAX_GUESSES * 2]
        found = [self.texts[i] for i in best if similarity[i] >= MIN_SIMILARITY]
        return tuple(w for w in dict.fromkeys(found) if w not in (key, text))[:MAX_GUESSES]


@click.command()
@click.option("--wheel", type=click.Path(path_type=Path), default=WHEEL, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=VECTORS_DIR, show_default=True)
def main(wheel: Path, out: Path) -> None:
    """Prepare chiVe's vectors from the ja-ginza wheel for the search (run by `make`)."""
    try:
        prepare(wheel, out)
    except VectorsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"word vectors written to {out}")


if __name__ == "__main__":
    main()
