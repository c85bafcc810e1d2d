"""A provider's batches read in a second process, one batch ahead of the caller.

Prepare spends about a third of its time reading the file (parsing, then each line's JSON
for prepared data) and the rest writing; on SQLite both run in one process, on one core.
Here a child process (``python -m migration_kit.providers.read_ahead``, not
``multiprocessing``: that re-imports the caller's ``__main__``, a consultant's script)
reads the file and writes each row's JSON, and sends per batch only what the caller reads
of the rows (the columns it names), their source lines and the JSON texts; the caller
writes batch *k* while the child reads batch *k + 1*. The pipe between them holds about
one batch, so memory stays bounded.

A read error in the child (a :class:`~migration_kit.errors.SourceError` naming line and
column, or any other) is raised in the caller as it is, at the batch where it happened;
a child that dies is an error naming its exit status. Closing the iterator early (the
caller failed) stops the child. Where no interpreter can be started, the batches are
read (and cut the same way) in the caller's process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # Windows: the pipe's default size
    fcntl = None  # type: ignore[assignment]

from migration_kit.errors import Location, SourceError
from migration_kit.jsonio import dump_row

from .base import BATCH_ROWS, ProviderType, RowBatch, Schema
from .registry import provider_type_in

# Files smaller than this are read in the caller's process: starting the child (about
# 0.3 s) costs more than it saves there.
MIN_BYTES = 16 * 1024 * 1024
PIPE_BYTES = 1024 * 1024  # a batch of 5,000 invoice lines pickles to about 0.75 MB


def worth_it(path: Path | str) -> bool:
    """Whether reading ``path`` ahead pays: a big file, and a second core to read it on."""
    return (os.cpu_count() or 1) >= 2 and Path(path).stat().st_size >= MIN_BYTES


@dataclass
class AheadBatch:
    """A batch as read ahead: ``rows`` hold only the asked columns, in the order asked;
    ``data`` is each full row's JSON (``jsonio.dump_row``)."""

    rows: list[tuple]
    lines: list[int]
    data: list[str]

    def __len__(self) -> int:
        return len(self.rows)


def read_ahead(ptype: ProviderType, path: Path | str, params: dict, schema: Schema,
               positions: list[int], batch_size: int = BATCH_ROWS
               ) -> Generator[AheadBatch, None, None]:
    """The batches of ``ptype.read_batches(path, params, schema, batch_size)``, read in a
    child process; each row cut to the columns at ``positions``."""
    with tempfile.TemporaryFile() as err:
        # the child imports this very package, even where the caller found it by a path
        # of its own (a notebook's sys.path)
        here = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [here, os.environ.get("PYTHONPATH")]))}
        try:
            proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, env=env)
        except OSError:  # no interpreter to start (an embedded Python): read here
            yield from cut_batches(ptype.read_batches(Path(path), params, schema,
                                                      batch_size), positions)
            return
        try:
            assert proc.stdin is not None and proc.stdout is not None
            _widen(proc.stdout)
            try:  # the type by its module: the child imports that format's module alone
                pickle.dump(((type(ptype).__module__, ptype.name), str(path), params,
                             schema, positions, batch_size), proc.stdin)
                proc.stdin.close()
            except BrokenPipeError:  # the child ended at once: its stderr says why, below
                pass
            while True:
                try:
                    kind, value = pickle.load(proc.stdout)
                except EOFError:  # the child died (killed, out of memory)
                    code = proc.wait()
                    err.seek(0)
                    tail = err.read()[-2000:].decode("utf-8", "replace").strip()
                    raise SourceError(
                        f"the process reading the file ended before its end (exit status "
                        f"{code})" + (f": {tail}" if tail else ""),
                        location=Location(file=str(path))) from None
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:  # its unwritten bytes: the child is gone
                    pass


def _widen(pipe: BinaryIO) -> None:
    """A pipe that holds a whole batch (Linux: up to ``pipe-max-size``, 1 MiB by default),
    so the child goes on to the next batch while this one waits to be read."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is None:
        return
    try:
        fcntl.fcntl(pipe.fileno(), size, PIPE_BYTES)
    except OSError:  # above the system's limit for this user: the default size
        pass


def cut_batches(batches: Iterable[RowBatch], positions: list[int]) -> Iterator[AheadBatch]:
    """Each batch's rows cut to the columns at ``positions``, with each full row's JSON."""
    for b in batches:
        rows = b.rows
        cut = (list(zip(*(map(itemgetter(i), rows) for i in positions))) if positions
               else [()] * len(rows))
        yield AheadBatch(cut, list(b.lines), list(map(dump_row, rows)))


def _send(out: BinaryIO, kind: str, value: Any) -> None:
    pickle.dump((kind, value), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def _child(request: BinaryIO, out: BinaryIO) -> None:
    ptype, path, params, schema, positions, size = pickle.load(request)
    try:
        for b in cut_batches(provider_type_in(*ptype).read_batches(Path(path), params,
                                                                   schema, size), positions):
            _send(out, "batch", b)
    except Exception as e:  # noqa: BLE001 - raised in the caller, as it is if it pickles
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:  # noqa: BLE001
            e = SourceError(f"{type(e).__name__}: {e}", location=Location(file=path))
        _send(out, "error", e)
        return
    _send(out, "end", None)


if __name__ == "__main__":
    # the module by its name, not as __main__: the batches unpickle as its AheadBatch
    from migration_kit.providers.read_ahead import _child as child

    # the batches go to a private copy of stdout: a library that prints cannot mix in
    _out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        child(sys.stdin.buffer, _out)
    except BrokenPipeError:  # the caller stopped reading (it failed, or was interrupted)
        pass
    finally:
        try:
            _out.close()
        except BrokenPipeError:
            pass
