"""Write files so that a crash or a full disk never leaves a truncated file under a real name.

Everything octsr writes (checkpoints, restored scans, CSVs, reports, figures) is first
written to a hidden temporary file beside its destination, flushed to disk, and then
renamed over the destination in one step (`os.replace` is atomic within a file system).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# mkstemp makes owner-only files; give results the mode any new file would get.
_UMASK = os.umask(0)
os.umask(_UMASK)

@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write into; it becomes `path` only if the block completes.

    The temporary file keeps the destination's suffix (writers such as tifffile, OpenCV and
    matplotlib choose the format from it). A destination that is a symbolic link is replaced
    by the new file, never written through.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(0o666 & ~_UMASK)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def commit(written: str | Path, path: str | Path) -> None:
    """Flush a finished temporary file to disk and rename it over `path` in one step."""
    with open(written, "rb") as file:
        os.fsync(file.fileno())
    os.replace(written, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
