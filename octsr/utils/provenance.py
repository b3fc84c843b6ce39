"""Where each output came from, so that no earlier result is replaced without a word.

Entry points that write results into a folder a user names (enhance, export, evaluate,
report) record, for each file they write, the input it came from (path, size, modification
time), a digest of the settings that shaped it, and the output's own size and modification
time as it was written, in a hidden `.octsr-outputs.json` beside the outputs. Before any
work starts, every planned output that already exists is checked against that record: an
output still as octsr wrote it, from the same input and settings, may be written again (a
rerun gives the same file); anything else is kept and the run stops in one line unless
`overwrite=true`: a file octsr did not write, one it wrote from another scan or with other
settings, and one changed since (a user who edited an enhanced scan and saved it).

A run adds each output as one line to `.octsr-outputs.journal` beside the record, so the
cost per output stays the same however many there are, and a killed run still vouches for
every output it finished. Reading the record folds the journal in; the end of a run (`save`,
`close`, or leaving a `with` block) writes the folded record in one step and removes the
journal. A record or journal line that cannot be read, or is not what octsr writes, vouches
for nothing: the outputs it would name are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from octsr.errors import ConfigError, WriteError
from octsr.utils.atomic import write_text_atomic

RECORD_NAME = ".octsr-outputs.json"
JOURNAL_NAME = ".octsr-outputs.journal"


def settings_digest(settings: Mapping[str, Any]) -> str:
    """A short digest of the settings that decide an output's content."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_record(path: Path) -> dict[str, dict]:
    """The record's entries; none if it is missing, unreadable, or not an object of objects
    (hand-edited or written by something else: it cannot be trusted in part)."""
    try:
        entries = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict) or not all(isinstance(entry, dict) for entry in entries.values()):
        return {}
    return entries


def _read_journal(path: Path) -> tuple[dict[str, dict], bool]:
    """The journal's entries, later lines over earlier ones, and whether it ends mid-line.
    A line that is not one whole entry (the last one of a run killed while writing it, or
    junk) is skipped: it vouches for nothing."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}, False
    entries = {}
    for line in data.split(b"\n"):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("output"), str) and isinstance(item.get("entry"), dict):
            entries[item["output"]] = item["entry"]
    return entries, bool(data) and not data.endswith(b"\n")


class OutputRecord:
    """The record of one output folder: which output came from which input and settings.

    `add` appends to the journal; `save` (also `close`, and the end of a `with` block) folds
    it into the record. Other processes reading the folder meanwhile see both."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / RECORD_NAME
        self.journal_path = folder / JOURNAL_NAME
        self._folder = folder.resolve()
        self._folders: dict[Path, Path] = {}
        self.entries: dict[str, Any] = _read_record(self.path)
        journaled, self._torn = _read_journal(self.journal_path)
        self.entries.update(journaled)
        self._unfolded = self.journal_path.exists()
        self._journal: IO[str] | None = None

    def _in_resolved_folder(self, path: Path) -> Path:
        """`path` with its folder resolved (links, `..`): each folder is looked up once, not
        once per file (a run of 100,000 outputs would spend most of its record's time there)."""
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = path.parent.resolve()
        return folder / path.name

    def _key(self, output: Path) -> str:
        return str(self._in_resolved_folder(output).relative_to(self._folder))

    def _source(self, path: Path) -> dict[str, Any]:
        """What identifies an input: a file by its resolved path, size and modification time;
        a folder (the runs a report reads) by its path alone, since runs are added to it as
        they finish."""
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode):
            resolved = self._in_resolved_folder(path)
        else:  # a link, followed to what it names, or a folder
            info, resolved = path.stat(), path.resolve()
            if stat.S_ISDIR(info.st_mode):
                return {"input": str(resolved)}
        return {"input": str(resolved), "size": info.st_size, "mtime_ns": info.st_mtime_ns}

    def _entry(self, source: Path, output: Path, digest: str) -> dict[str, Any]:
        info = output.stat()
        return {**self._source(source), "settings": digest, "output_size": info.st_size,
                "output_mtime_ns": info.st_mtime_ns}

    def made_from(self, output: Path, source: Path, digest: str) -> bool:
        """Whether `output` is, unchanged, what octsr made from `source` with these settings."""
        try:
            return self.entries.get(self._key(output)) == self._entry(source, output, digest)
        except OSError:  # an output or input that cannot be looked at is vouched for by nothing
            return False

    def check(self, plan: Iterable[tuple[Path, Path]], digest: str, overwrite: bool, key: str) -> None:
        """Stop, in one line naming what would be lost, if an existing output of `plan`
        ((source, output) pairs) did not come from the same source and settings, or was
        changed since octsr wrote it."""
        if overwrite:
            return
        kept = [output for source, output in plan if output.exists() and not self.made_from(output, source, digest)]
        if kept:
            what = f"{kept[0]} and {len(kept) - 1} more output(s) already exist" if len(kept) > 1 else \
                f"{kept[0]} already exists"
            raise ConfigError(f"{what} (made from another input or with other settings, or not by octsr): "
                              f"kept. Choose another {key}, or add overwrite=true to replace")

    def add(self, source: Path, output: Path, digest: str) -> None:
        """Record `output`, just written from `source`: one line appended to the journal."""
        key, entry = self._key(output), self._entry(source, output, digest)
        self.entries[key] = entry
        try:
            if self._journal is None:
                self._journal = self.journal_path.open("a", encoding="utf-8")
                if self._torn:  # a killed run's half line stays a line of its own, skipped when read
                    self._journal.write("\n")
                    self._torn = False
            self._journal.write(json.dumps({"output": key, "entry": entry}, sort_keys=True) + "\n")
            # Flushed, not synced: a killed process loses nothing written; after a power cut
            # an output the journal lost is merely kept, never replaced.
            self._journal.flush()
        except OSError as err:
            raise WriteError(f"{self.journal_path}: could not be written ({err.strerror or err}); "
                             f"{output} was written, but a rerun will keep it rather than replace it") from err
        self._unfolded = True

    def added(self, source: Path, outputs: list[Path], digest: str) -> list[Path]:
        """Record `outputs`, all made from `source`, and save; returns them."""
        for output in outputs:
            self.add(source, output, digest)
        self.save()
        return outputs

    def save(self) -> None:
        """Fold the journal into the record, written in one step, and remove the journal."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if not self._unfolded:
            return
        if self.entries:
            # One entry a line, each through json's C encoder (an indented dump goes through
            # its Python one, 4x slower on a record of 100,000 entries).
            encode = json.JSONEncoder(sort_keys=True).encode
            lines = (f"{encode(key)}: {encode(entry)}" for key, entry in sorted(self.entries.items()))
            write_text_atomic(self.path, "{\n" + ",\n".join(lines) + "\n}\n")
        # Once the record holds every line, a journal left behind would only be folded again.
        self.journal_path.unlink(missing_ok=True)
        self._unfolded = self._torn = False

    close = save

    def __enter__(self) -> OutputRecord:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            self.save()
        except OSError:
            if kind is None:
                raise
            # The run's own error is the one to report; the journal stays and the next
            # reading folds it.
