"""Where each output came from, so that no earlier result is replaced without a word.

Entry points that write results into a folder a user names (enhance, export, evaluate,
report) record, for each
file they write, the input it came from (path, size, modification time) and a digest of the
settings that shaped it, in a hidden `.octsr-outputs.json` beside the outputs. Before any work
starts, every planned output that already exists is checked against that record: the same
input and settings may be written again (a rerun gives the same file); anything else, a file
octsr did not write, or wrote from another scan or with other settings, is kept, and the
run stops in one line unless `overwrite=true`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from octsr.errors import ConfigError
from octsr.utils.atomic import write_text_atomic

RECORD_NAME = ".octsr-outputs.json"


def settings_digest(settings: Mapping[str, Any]) -> str:
    """A short digest of the settings that decide an output's content."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _source(path: Path) -> dict[str, Any]:
    """What identifies an input: a file by its path, size and modification time; a folder
    (the runs a report reads) by its path alone, since runs are added to it as they finish."""
    if path.is_dir():
        return {"input": str(path.resolve())}
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class OutputRecord:
    """The record of one output folder: which output came from which input and settings."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / RECORD_NAME
        try:
            self.entries: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        except (OSError, ValueError):
            self.entries = {}  # an unreadable record vouches for nothing: every output is kept

    def _key(self, output: Path) -> str:
        return str(output.resolve().relative_to(self.path.parent.resolve()))

    def made_from(self, output: Path, source: Path, digest: str) -> bool:
        return self.entries.get(self._key(output)) == {**_source(source), "settings": digest}

    def check(self, plan: Iterable[tuple[Path, Path]], digest: str, overwrite: bool, key: str) -> None:
        """Stop, in one line naming what would be lost, if an existing output of `plan`
        ((source, output) pairs) did not come from the same source and settings."""
        if overwrite:
            return
        kept = [output for source, output in plan if output.exists() and not self.made_from(output, source, digest)]
        if kept:
            what = f"{kept[0]} and {len(kept) - 1} more output(s) already exist" if len(kept) > 1 else \
                f"{kept[0]} already exists"
            raise ConfigError(f"{what} (made from another input or with other settings, or not by octsr): "
                              f"kept. Choose another {key}, or add overwrite=true to replace")

    def add(self, source: Path, output: Path, digest: str) -> None:
        self.entries[self._key(output)] = {**_source(source), "settings": digest}

    def added(self, source: Path, outputs: list[Path], digest: str) -> list[Path]:
        """Record `outputs`, all made from `source`, and save; returns them."""
        for output in outputs:
            self.add(source, output, digest)
        self.save()
        return outputs

    def save(self) -> None:
        if self.entries:
            write_text_atomic(self.path, json.dumps(self.entries, indent=1, sort_keys=True))
