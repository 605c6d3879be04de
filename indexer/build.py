"""Build the index into a fresh directory and swap it in atomically.

The index path (``index/`` by default) is a symbolic link to a generation directory beside it
(``.index-<timestamp>``). A build writes a new generation, checks it, then replaces the link in
one ``rename``: readers see the old index or the new one, never a mix, and a build that fails or
is killed leaves the link, and so the index in use, untouched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import pickle
import queue
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.multiproc import MpWriter, SubWriterTask

from indexer.corpus import PolicyItem, load_corpus
from indexer.schema import policy_schema
from indexer.synonym_dictionary import DictionaryError
from indexer.synonyms import SYNONYMS_FILE, synonym_file
from indexer.vocabulary import VOCABULARY_FILE, VocabularyBuilder, write_vocabulary

# Parallel indexing pays from a few thousand items (the seed has 475); each process takes
# documents in batches of BATCH and holds up to WRITER_MB of postings before spilling a sorted
# run to disk (merging runs is Python too: at 1000x, 256 MB built in 432 s, 4096 MB in 343 s
# with 4.3 GB per process).
PARALLEL_FROM = 2000
MAX_PROCS = 8
BATCH = 250
WRITER_MB = 1024
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
VOCABULARY_SHARES = "vocabulary-share-*.pickle"  # a writer process's, merged by the build
POLL = 0.1  # seconds between looks at the writer processes while waiting on them
# What a person reads for the errors a full, read-only or forbidden disk gives.
DISK_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission is denied",
    errno.EPERM: "permission is denied",
}


class BuildError(Exception):
    """The index could not be built or swapped in; the message says why."""


@dataclass(frozen=True)
class BuildSummary:
    index_dir: Path
    generation: Path
    items: int
    per_department: dict[str, int]
    seconds: float


def generation_prefix(index_dir: Path) -> str:
    return f".{index_dir.name}-"


@contextmanager
def build_lock(
    index_dir: Path, wait: float = 120.0, waiting: Callable[[str], None] | None = None
) -> Iterator[int]:
    """Hold an exclusive lock for building `index_dir`, waiting up to `wait` seconds; yield its fd.

    The lock file names the process holding it, so that one waiting can say whom it waits for.
    """
    lock_path = index_dir.parent / f".{index_dir.name}.lock"
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _lock_holder(lock_path)
                if time.monotonic() > deadline:
                    raise BuildError(
                        f"another build of {index_dir} is still running ({holder}, lock "
                        f"{lock_path}); wait for it to end or stop that process"
                    ) from None
                if waiting:
                    waiting(
                        f"waiting up to {wait:.0f} s for another build of {index_dir} ({holder})"
                    )
                    waiting = None
                time.sleep(0.1)
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield handle.fileno()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_holder(lock_path: Path) -> str:
    """Return which process the lock file says holds it, as words."""
    try:
        pid = lock_path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "a process that did not say its id"


def build_index(
    corpus_dir: Path | str,
    index_dir: Path | str,
    progress: Callable[[int, int], None] | None = None,
    lock_wait: float = 120.0,
    waiting: Callable[[str], None] | None = None,
) -> BuildSummary:
    """Parse the corpus, index it into a new generation and make it the index in use."""
    started = time.perf_counter()
    index_dir = Path(index_dir).absolute()
    items = load_corpus(corpus_dir)  # parse everything before touching the index
    try:
        synonyms = synonym_file(corpus_dir, items)
    except DictionaryError as error:
        raise BuildError(f"synonym dictionary unusable: {error}") from None
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        with build_lock(index_dir, lock_wait, waiting) as lock_fd:
            generation = _new_generation(index_dir)
            try:
                _write_index(generation, items, progress, inherited=(lock_fd,))
                (generation / SYNONYMS_FILE).write_text(json.dumps(synonyms, ensure_ascii=False))
                previous = _swap_in(index_dir, generation)
            except BaseException:
                shutil.rmtree(generation, ignore_errors=True)
                raise
            _remove_old_generations(index_dir, keep={generation, previous})
    except OSError as error:
        raise BuildError(disk_problem(error, index_dir)) from None
    return BuildSummary(
        index_dir=index_dir,
        generation=generation,
        items=len(items),
        per_department=dict(Counter(item.department for item in items)),
        seconds=time.perf_counter() - started,
    )


def disk_problem(error: OSError, index_dir: Path) -> str:
    """Return the sentence that says why writing the index beside `index_dir` failed.

    >>> disk_problem(OSError(28, "No space left on device"), Path("/srv/index"))
    'the disk is full (No space left on device) while writing the index at /srv/index: \
nothing was changed, the index in use stays'
    """
    problem = DISK_PROBLEMS.get(error.errno, "the index could not be written")
    reason = error.strerror or f"{error.__class__.__name__}: {error}"
    return (
        f"{problem} ({reason}) while writing the index at {index_dir}: "
        "nothing was changed, the index in use stays"
    )


def _new_generation(index_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    generation = index_dir.parent / f"{generation_prefix(index_dir)}{stamp}-{os.getpid()}"
    generation.mkdir()
    return generation


def index_in_process(directory: Path, items: list[PolicyItem], pool_mb: int = WRITER_MB) -> None:
    """Index `items` into a new index in `directory` as the build does, in this process only.

    The benchmark profiles the work per item with it (a profiler sees no writer process);
    `pool_mb` is the MB of postings held before a sorted run is spilled to disk.
    """
    _write_index(directory, items, None, parallel=False, pool_mb=pool_mb)


def _write_index(
    generation: Path,
    items: list[PolicyItem],
    progress: Callable[[int, int], None] | None,
    inherited: tuple[int, ...] = (),
    parallel: bool = True,
    pool_mb: int = WRITER_MB,
) -> None:
    ix = whoosh_index.create_in(str(generation), policy_schema())
    writer = _writer(ix, len(items), inherited) if parallel else ix.writer(limitmb=pool_mb)
    # The vocabulary (suggestions, kana queries: indexer.vocabulary) is collected where each
    # item is analysed, while the analysis of its text is still at hand: here, or in each
    # writer process, which leaves its share beside the index for this one to merge.
    vocabulary = VocabularyBuilder()
    parallel = isinstance(writer, WatchedWriter)
    try:
        for number, item in enumerate(items, 1):
            writer.add_document(**vars(item), reading=item.text, exact=item.text)
            if not parallel:
                vocabulary.add(item.text)
            if progress:
                progress(number, len(items))
        writer.commit()
        for share in sorted(generation.glob(VOCABULARY_SHARES)):
            vocabulary.merge(pickle.loads(share.read_bytes()))
            share.unlink()
        write_vocabulary(vocabulary.vocabulary(), generation / VOCABULARY_FILE)
    except BaseException:
        if isinstance(writer, WatchedWriter):
            writer.stop_workers()
        try:
            writer.cancel()
        except Exception:  # a full disk can fail the clean-up too; the generation goes anyway
            pass
        raise
    with ix.searcher() as searcher:
        if searcher.doc_count() != len(items):
            raise BuildError(f"index holds {searcher.doc_count()} items, expected {len(items)}")


def _writer(ix: whoosh_index.Index, items: int, inherited: tuple[int, ...] = ()):
    """Return a writer that analyses in one process per core when the corpus is large enough.

    Each process writes its own segment (no merge afterwards); a small corpus is written in
    this process, where starting the others would cost more than it saves.
    """
    procs = min(len(os.sched_getaffinity(0)), MAX_PROCS)
    if procs < 2 or items < PARALLEL_FROM:
        return ix.writer(limitmb=WRITER_MB)
    return WatchedWriter(
        ix, inherited, procs=procs, multisegment=True, batchsize=BATCH, limitmb=WRITER_MB
    )


class WriterProcess(SubWriterTask):
    """A Whoosh writer process that dies with the build, holds no lock and reports its error.

    Forked, it inherits every open file of the build, the build lock among them: it closes
    those, so that a lock held by an orphan can never block the next build.
    """

    def __init__(self, *args, parent: int, inherited: tuple[int, ...]):
        super().__init__(*args)
        self.parent = parent
        self.inherited = inherited

    def run(self) -> None:
        _die_with(self.parent)
        for fd in self.inherited:
            os.close(fd)
        self.vocabulary = VocabularyBuilder()
        try:
            super().run()
            share = Path(self.storage.folder) / VOCABULARY_SHARES.replace("*", str(os.getpid()))
            share.write_bytes(pickle.dumps(self.vocabulary))
        except BaseException as error:  # carried back to the build, which says it once
            code = error.errno if isinstance(error, OSError) else None
            reason = error.strerror if isinstance(error, OSError) else None
            self.resultqueue.put(("error", code, reason or f"{type(error).__name__}: {error}"))
            self.resultqueue.close()
            self.resultqueue.join_thread()
            sys.exit(1)

    def _process_file(self, filename: str, doc_count: int) -> None:
        """Index a batch of items, and add each to this process's share of the vocabulary.

        Whoosh's loop calls the writer's `add_document` per item: it is wrapped once.
        """
        if "add_document" not in vars(self.writer):
            add = self.writer.add_document

            def adding(**fields) -> None:
                add(**fields)
                self.vocabulary.add(fields["text"])

            self.writer.add_document = adding
        super()._process_file(filename, doc_count)


def _die_with(parent: int) -> None:
    """Have Linux kill this process when `parent` dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the lock is not held here all the same
        pass
    if os.getppid() != parent:
        os._exit(1)


class WatchedWriter(MpWriter):
    """Whoosh's parallel writer that looks at its processes instead of waiting on them blindly.

    A process that dies (killed, out of memory, out of disk) fails the build at once, with the
    process's own error, where Whoosh's writer would wait for it forever.
    """

    def __init__(self, ix, inherited: tuple[int, ...], **kwargs):
        super().__init__(ix, **kwargs)
        self.inherited = inherited
        self.jobs = self.jobqueue
        self.jobqueue = _WatchedQueue(self.jobs, self.check_workers)

    def _new_task(self) -> WriterProcess:
        task = WriterProcess(
            self.storage,
            self.indexname,
            self.jobs,
            self.resultqueue,
            self.subargs,
            self.multisegment,
            parent=os.getpid(),
            inherited=self.inherited,
        )
        self.tasks.append(task)
        task.start()
        return task

    def _commit(self, mergetype, optimize, merge) -> None:
        if self.docbuffer:
            self._enqueue()
        for _ in self.tasks:
            self.jobqueue.put(None)
        segments = self._merge_segments(mergetype, optimize, merge)
        segments += [self._result() for _ in self.tasks]
        for task in self.tasks:
            task.join()
        if self._added:
            segments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(segments)
        self._finish()

    def _result(self):
        """Return the next process's segment, or raise its error or its death."""
        while True:
            try:
                result = self.resultqueue.get(timeout=POLL)
            except queue.Empty:
                self.check_workers(finishing=True)
                continue
            if result[0] == "error":
                raise _worker_error(result)
            return result[2]

    def check_workers(self, finishing: bool = False) -> None:
        """Raise if a process has ended before its time: any, or once finishing, a failed one."""
        ended = [t for t in self.tasks if t.exitcode not in (None, *([0] if finishing else []))]
        if not ended:
            return
        try:  # its own error, if it sent one before it ended
            result = self.resultqueue.get(timeout=0.5)
        except queue.Empty:
            result = None
        if result and result[0] == "error":
            raise _worker_error(result)
        raise BuildError(f"a writer process of the build died ({_exit_reason(ended[0])})")

    def stop_workers(self) -> None:
        """End every process still running and drop what is left for them to do."""
        for task in self.tasks:
            if task.exitcode is None:
                task.kill()
            task.join()
        self.jobs.cancel_join_thread()


class _WatchedQueue:
    """A job queue whose `put` looks at the processes while the queue is full."""

    def __init__(self, jobs, check: Callable[[], None]):
        self.jobs = jobs
        self.check = check

    def put(self, job) -> None:
        self.check()
        while True:
            try:
                self.jobs.put(job, timeout=POLL)
                return
            except queue.Full:
                self.check()


def _worker_error(result: tuple) -> Exception:
    _, code, reason = result
    if code is not None:
        return OSError(code, reason)
    return BuildError(f"a writer process of the build failed: {reason}")


def _exit_reason(task: SubWriterTask) -> str:
    if task.exitcode is not None and task.exitcode < 0:
        return f"killed by {signal.Signals(-task.exitcode).name}"
    return f"exit status {task.exitcode}"


def _swap_in(index_dir: Path, generation: Path) -> Path | None:
    """Point the index link at `generation`; return the generation it pointed at before."""
    previous = index_dir.resolve() if index_dir.is_symlink() else None
    if index_dir.exists() and not index_dir.is_symlink():
        previous = _move_aside_plain_directory(index_dir)
    link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(generation.name)
    os.replace(link, index_dir)
    return previous


def _move_aside_plain_directory(index_dir: Path) -> Path:
    """Move a plain directory out of the way once, refusing to touch one that is not an index."""
    if any(index_dir.iterdir()) and not whoosh_index.exists_in(str(index_dir)):
        raise BuildError(
            f"{index_dir} is a directory that holds something other than an index; "
            "move it away or choose another --index"
        )
    aside = index_dir.parent / f"{generation_prefix(index_dir)}old-{os.getpid()}"
    index_dir.rename(aside)
    return aside


def _generations(index_dir: Path) -> list[Path]:
    return [p for p in index_dir.parent.glob(f"{generation_prefix(index_dir)}*") if p.is_dir()]


def _remove_old_generations(index_dir: Path, keep: set[Path | None]) -> None:
    """Delete generations but the new one and the one before it (a server may still read it)."""
    for generation in _generations(index_dir):
        if generation not in keep:
            shutil.rmtree(generation, ignore_errors=True)
