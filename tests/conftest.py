"""Shared fixtures: the seed corpus indexed once per session into a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.corpus import load_corpus
from indexer.search import PolicyIndex

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def seed_items():
    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("seed") / "index"
    build_index(CORPUS, index_dir)
    return index_dir


@pytest.fixture(scope="session")
def policy_index(seed_index_dir) -> PolicyIndex:
    return PolicyIndex(seed_index_dir)
