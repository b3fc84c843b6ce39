"""Result tables written by the entry points (and the bench): CSV files and Markdown tables."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from octsr.utils.atomic import atomic_path


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table, one list of cells per row (a `|` inside a cell is escaped)."""
    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + " --- |" * len(header), *(line(row) for row in rows)])


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """One row per dict; the columns are every key, in the order they first appear."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
