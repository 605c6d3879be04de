"""The index's files in memory: one private copy each, read in place (indexer/storage.py)."""

from __future__ import annotations

import pickle
import shutil
import tracemalloc

from indexer.search import PolicyIndex
from indexer.storage import CopyingStorage


def test_a_copied_file_reads_as_whoosh_reads_its_files(tmp_path):
    header = b"line one\nline two\n"
    body = pickle.dumps({"terms": ["防災", "dx"]}, 2)
    (tmp_path / "a.bin").write_bytes(header + body + b"\x00\x00\x00\x2a")
    f = CopyingStorage(str(tmp_path), readonly=True).open_file("a.bin")
    assert f.readline() == b"line one\n" and f.readline() == b"line two\n"
    assert f.read_pickle() == {"terms": ["防災", "dx"]}
    assert f.read_int() == 42 and f.read(5) == b""
    f.seek(0, 2)
    assert f.tell() == len(header + body) + 4
    f.seek(5)
    assert f.read(3) == b"one" and f.get(0, 4) == b"line"
    part = f.subset(len(header), len(body))
    assert part.read_pickle() == {"terms": ["防災", "dx"]}
    assert part._buf.obj is f._buf.obj  # a view of the same memory, not a copy
    f.close()


def test_an_empty_file_opens(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert CopyingStorage(str(tmp_path), readonly=True).open_file("empty").read() == b""


def test_opening_an_index_does_not_copy_its_segments_again(tmp_path, seed_index_dir):
    """Whoosh's BufferFile copied each part of a mapped segment into a BytesIO: held twice."""
    copy = tmp_path / "index"
    shutil.copytree(seed_index_dir.resolve(), copy)
    segment = sum(p.stat().st_size for p in copy.glob("*.seg"))
    tracemalloc.start()
    try:
        index = PolicyIndex(copy)
        assert index.search("防災").total > 0
        held = tracemalloc.take_snapshot().statistics("filename")
    finally:
        tracemalloc.stop()
    in_whoosh_files = sum(s.size for s in held if "whoosh/filedb" in s.traceback[0].filename)
    assert segment > 1_000_000 and in_whoosh_files < segment / 20
