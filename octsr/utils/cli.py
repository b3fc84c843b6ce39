"""Command-line checks that run before Hydra composes a config."""

from __future__ import annotations

import sys
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"


def unknown_group_option(argv: list[str], conf: Path = CONF) -> str | None:
    """The message for the first `group=option` whose option has no file in `conf/group/`
    (e.g. `debug=tinny`), or None. Hydra itself would silently skip an optional group's typo
    and report others in several lines; sweeps' comma lists are checked one by one."""
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+")
        if key.startswith("~") or group.startswith("hydra") or not (conf / group).is_dir():
            continue
        if any(mark in value for mark in "()*${}[]"):  # sweep functions, globs, interpolations
            continue
        options = sorted(p.stem for p in (conf / group).glob("*.yaml") if not p.stem.startswith("_"))
        for option in value.split(","):
            if option != "null" and not (conf / group / f"{option}.yaml").is_file():
                return f"{group}={option}: no such option; {group} is one of {', '.join(options)}"
    return None


def exit_on_unknown_group_option(argv: list[str] | None = None) -> None:
    """For an entry point's `__main__`: a mistyped config group option is one
    `octsr: error:` line and exit status 2, before anything runs."""
    message = unknown_group_option(sys.argv[1:] if argv is None else argv)
    if message:
        print(f"octsr: error: {message}", file=sys.stderr)
        sys.exit(2)
