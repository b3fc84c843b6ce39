"""Write files so that a crash or a full disk never leaves a truncated file under a real name.

Everything octsr writes (checkpoints, restored scans, CSVs, reports, figures) is first
written to a hidden temporary file beside its destination, flushed to disk, and then
renamed over the destination in one step (`os.replace` is atomic within a file system).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from octsr.errors import WriteError

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
    tmp = None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
        os.close(fd)
        tmp = Path(name)
        tmp.chmod(0o666 & ~_UMASK)
        yield tmp
        commit(tmp, path)
    except OSError as err:
        # Writers word a full disk in their own ways (tifffile: "405000 requested and 204592
        # written"): one line that names the file, the reason and the free space instead.
        raise WriteError(f"{path}: could not be written ({_reason(err)}; {_free_space(path.parent)}); "
                         f"nothing was left under this name. Free some space, or choose a folder you can "
                         f"write to") from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _reason(err: OSError) -> str:
    return err.strerror or " ".join(str(err).split()) or type(err).__name__


def _free_space(folder: Path) -> str:
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return f"{folder} is not reachable"
    return f"{usage.free / 2**20:,.0f} MB free in {folder}"


def commit(written: str | Path, path: str | Path) -> None:
    """Flush a finished temporary file to disk and rename it over `path` in one step."""
    with open(written, "rb") as file:
        os.fsync(file.fileno())
    os.replace(written, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
