"""Every `>>>` example in the indexer's docstrings runs and holds."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "analysis", "corpus", "query", "highlight", "schema", "synonyms", "relevance", "understand",
    "graded", "lexicon", "names", "generic", "synonym_dictionary", "related", "storage",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"indexer.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
