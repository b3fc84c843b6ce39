"""Result tables written by the entry points."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from octsr.utils.atomic import atomic_path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """One row per dict; the columns are every key, in the order they first appear."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
