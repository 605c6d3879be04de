"""The Sudachi dictionary: the core dictionary plus the project's user dictionary.

The user dictionary is kept as CSV in the repository (`corpus/user_dict.csv`) and compiled with
SudachiPy's own builder the first time a process needs it, into a cache file named after the
hash of the CSV and of the system dictionary, so a changed CSV is compiled again and an
unchanged one never is. No compiled binary is committed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from functools import cache
from pathlib import Path

from sudachipy import Config, Dictionary, SplitMode
from sudachipy import sudachipy as sudachi_native

USER_DICTIONARY_CSV = Path(__file__).resolve().parent.parent / "corpus" / "user_dict.csv"

_local = threading.local()


def system_dictionary_path() -> Path:
    """Return the path of sudachidict-core's system dictionary."""
    import sudachidict_core

    return Path(sudachidict_core.__file__).parent / "resources" / "system.dic"


def cache_dir() -> Path:
    base = os.environ.get("POLICY_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "itabashi-policy-search"


def compile_user_dictionary(csv_path: Path = USER_DICTIONARY_CSV) -> Path:
    """Compile the user dictionary CSV unless a compiled copy of this very CSV exists."""
    system = system_dictionary_path()
    digest = hashlib.sha256(csv_path.read_bytes())
    digest.update(str(system.stat().st_size).encode())
    target = cache_dir() / f"user-{digest.hexdigest()[:16]}.dic"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Sudachi's builder will not overwrite a file, so build under a fresh name, then rename.
    handle, scratch = tempfile.mkstemp(dir=target.parent, suffix=".dic.tmp")
    os.close(handle)
    os.unlink(scratch)
    try:
        sudachi_native.build_user_dic(system, [csv_path], scratch, "itabashi policy search")
        os.replace(scratch, target)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return target


@cache
def sudachi_dictionary() -> Dictionary:
    """Open the core dictionary with the user dictionary, once per process."""
    user = [str(compile_user_dictionary())] if USER_DICTIONARY_CSV.exists() else None
    return Dictionary(config=Config(user=user), dict="core")


def sudachi_tokenizer():
    """Return this thread's Sudachi tokenizer (Sudachi tokenizers are not thread-safe)."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        tokenizer = _local.tokenizer = sudachi_dictionary().tokenizer(SplitMode.C)
    return tokenizer
