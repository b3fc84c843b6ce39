"""What happens when a run fails: one line for user mistakes, a record for sweeps."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf.errors import OmegaConfBaseException

from octsr.errors import Interrupted, OctsrError
from octsr.utils.atomic import write_text_atomic

log = logging.getLogger(__name__)

# What a user can do about the file system's refusals, by errno.
WHAT_TO_DO = {
    errno.EEXIST: "a file is where a folder must go: move it, or choose another path",
    errno.ENOTDIR: "a file is where a folder must go: move it, or choose another path",
    errno.ENOSPC: "the disk is full: free some space, or choose another folder",
    errno.EACCES: "no permission: choose a folder you can write to, or fix its permissions",
    errno.EPERM: "no permission: choose a folder you can write to, or fix its permissions",
    errno.EROFS: "a read-only file system: choose another folder",
    errno.ENOENT: "it does not exist (or vanished while the run was using it)",
}

# Written into a failed run's directory; `octsr.report` reads its first line as the reason.
FAILURE_FILE = "FAILED.txt"


def user_error_message(err: BaseException) -> str | None:
    """The one-line message of a mistake the user can fix (bad path or data, impossible
    config), or None for anything else (a bug: keep its traceback)."""
    # Hydra wraps errors raised while building objects; the cause is what the user can fix.
    while isinstance(err, InstantiationException) and err.__cause__ is not None:
        if not isinstance(err.__cause__, (OctsrError, OmegaConfBaseException, OSError)):
            break
        err = err.__cause__
    if isinstance(err, OSError) and err.strerror:  # a file system refusal: full disk, permissions
        where = f"{err.filename}: " if err.filename else ""
        advice = WHAT_TO_DO.get(err.errno or 0)
        return f"{where}{err.strerror}" + (f" ({advice})" if advice else "")
    if not isinstance(err, (OctsrError, OmegaConfBaseException, InstantiationException)):
        return None
    message = " ".join(str(err).split())
    if isinstance(err, OmegaConfBaseException):
        message = f"config: {message}"
    return message


def exit_on_user_error(err: BaseException) -> NoReturn:
    """For an entry point's `except`: a user mistake ends the program with one
    `octsr: error:` line and status 2; anything else (or HYDRA_FULL_ERROR=1) re-raises
    with its traceback."""
    message = user_error_message(err)
    if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    fail(message)


def fail(message: str) -> NoReturn:
    """The one way a command ends on a mistake the user can fix: one `octsr: error:` line on
    stderr, status 2."""
    print(f"octsr: error: {message}", file=sys.stderr)
    sys.exit(2)


@contextlib.contextmanager
def interrupted_after(progress: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C inside the block into `Interrupted` whose message is `progress()`: what the
    work finished before it stopped."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(progress()) from None


def exit_on_interrupt(err: KeyboardInterrupt) -> NoReturn:
    """For an entry point's `except KeyboardInterrupt`: one line (what was finished, where the
    work said so) and status 130, no traceback."""
    what = str(err) if isinstance(err, Interrupted) else ""
    print(f"octsr: interrupted{': ' + what if what else ''}", file=sys.stderr)
    sys.exit(130)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(output_dir: str | Path, err: BaseException) -> None:
    """Write why a run failed to FAILED.txt in its directory (reason first, then traceback)."""
    reason = user_error_message(err) or f"{type(err).__name__}: {' '.join(str(err).split())}"
    path = Path(output_dir) / FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, reason + "\n\n" + "".join(traceback.format_exception(err)))
    log.error("run failed: %s (details in %s)", reason, path)
