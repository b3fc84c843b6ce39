"""Command-line checks that run before Hydra composes a config."""

from __future__ import annotations

import sys
from pathlib import Path

import octsr.conf
from octsr.utils.extras import missing_extra

# conf/ in a checkout, octsr/conf/ in an installed wheel (see pyproject.toml)
CONF = Path(octsr.conf.__file__).parent


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


# Config options that load a Hydra plugin from an extra: the module that must be importable.
PLUGIN_OPTIONS = {
    "hparams_search=optuna": ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
}


def missing_plugin(argv: list[str]) -> str | None:
    """The message for the first option whose Hydra plugin is not installed, or None
    (Hydra's own error is several lines about search paths)."""
    for arg in argv:
        option = arg.lstrip("+")
        if option in PLUGIN_OPTIONS:
            return missing_extra(*PLUGIN_OPTIONS[option], feature=option)
    return None


def check_command_line(argv: list[str] | None = None) -> None:
    """For an entry point's `__main__`: a mistyped config group option, or one whose plugin
    is not installed, is one `octsr: error:` line and exit status 2, before anything runs."""
    argv = sys.argv[1:] if argv is None else argv
    message = unknown_group_option(argv) or missing_plugin(argv)
    if message:
        print(f"octsr: error: {message}", file=sys.stderr)
        sys.exit(2)
