"""The entry points' command line: checks that run before Hydra composes a config, and the
`cli()` that wraps each entry point's job."""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import hydra
import yaml
from omegaconf import DictConfig

from octsr.conf import CONF_DIR
from octsr.utils.extras import missing_extra
from octsr.utils.failures import exit_on_interrupt, exit_on_user_error, fail, in_multirun, record_failure

CONF = CONF_DIR


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


# Config options that need a package from an extra (Hydra plugins, loggers): the module that
# must be importable, and the extra.
EXTRA_OPTIONS = {
    "hparams_search=optuna": ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "logger=wandb": ("wandb", "wandb"),
    "logger=mlflow": ("mlflow", "mlflow"),
}


def missing_option_extra(argv: list[str]) -> str | None:
    """The message for the first option whose package is not installed, or None (Hydra's own
    error is several lines about search paths, or an import error once the run has begun)."""
    for arg in argv:
        option = arg.lstrip("+")
        if option in EXTRA_OPTIONS:
            return missing_extra(*EXTRA_OPTIONS[option], feature=option)
    return None


# Every command: `python -m octsr.<name>`, the `octsr-<name>` script, its config conf/<name>.yaml.
COMMANDS = ("train", "enhance", "evaluate", "crossval", "export", "report", "phantom")

# Groups no entry point composes by default, added with `+group=option`.
ADDED_GROUPS = {"train": {"sweep": "with -m: the paper's learning rates"}}


def _without_blocks(text: str, keys: tuple[str, ...]) -> str:
    """A config file's text without the top-level blocks `keys` (and their indented lines)."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split(":", 1)[0] in keys
        elif skipping and line.startswith("#"):  # a comment at the margin ends the block
            skipping = False
        if not skipping:
            kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def composed_groups(config: dict) -> dict[str, str | None]:
    """An entry point's config groups (its defaults list, Hydra's own left out) -> default option."""
    groups = {}
    for entry in config.get("defaults", []):
        if isinstance(entry, dict):
            ((group, default),) = entry.items()
            # An interpolated option is chosen by other groups, not by the user.
            if not group.startswith(("override", "hydra", "optional")) and "${" not in str(default):
                groups[group] = default
    return groups


def help_text(config_name: str, conf: Path = CONF) -> str:
    """`--help` of an entry point: its own config file (the comments give examples and say
    what each setting means) and the options of the config groups it composes; Hydra's
    `--help` would dump every composed setting and list every group in conf/."""
    text = (conf / f"{config_name}.yaml").read_text()
    lines = [f"octsr-{config_name} (or python -m octsr.{config_name}): key=value and group=option arguments",
             "", _without_blocks(text, ("defaults", "hydra")), ""]
    groups = composed_groups(yaml.safe_load(text))
    if groups:
        lines.append("Config groups (group=option; * marks the default):")
        for group, default in groups.items():
            options = sorted(p.stem for p in (conf / group).glob("*.yaml") if not p.stem.startswith("_"))
            marked = [f"{o}*" if o == default else o for o in options]
            lines.append(f"  {group:<15} {', '.join(marked)}" + ("" if default else "  (none by default)"))
        for group, what in ADDED_GROUPS.get(config_name, {}).items():
            options = sorted(p.stem for p in (conf / group).glob("*.yaml"))
            lines.append(f"  +{group:<14} {', '.join(options)}  ({what})")
        lines.append("")
    lines += ["Every setting with its value: --cfg job.  Hydra's own flags (-m, --cfg, --info, "
              "--shell-completion): --hydra-help.", "What each setting means: docs/configuration.md"]
    return "\n".join(lines)


def unknown_key(config_name: str, argv: list[str], conf: Path = CONF) -> str | None:
    """The message for the first `key=value` whose first part is neither a config group nor
    a setting of the entry point (`modle=srcnn`, `optimm.lr=0.1`), or None; Hydra would say
    so in five lines. `+key=value` adds a key on purpose and is let through."""
    config = yaml.safe_load((conf / f"{config_name}.yaml").read_text())
    known = (set(config) - {"defaults"}) | set(composed_groups(config)) | set(ADDED_GROUPS.get(config_name, {}))
    # A group's option included as it is (`- data/phantom`): its settings can be set, the
    # option not chosen.
    fixed = {entry.split("/")[0] for entry in config.get("defaults", []) if isinstance(entry, str) and "/" in entry}
    for arg in argv:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        first = re.split(r"[./=]", arg, maxsplit=1)[0]
        if first not in known and first != "hydra" and not (first in fixed and arg[len(first)] == "."):
            close = difflib.get_close_matches(first, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return (f"{arg}: {first} is no setting or config group of octsr.{config_name}{hint}; "
                    f"octsr-{config_name} --help lists them")
    return None


def check_command_line(config_name: str, argv: list[str] | None = None) -> None:
    """For an entry point's `__main__`: `--help` prints help_text and exits; a mistyped config
    group, group option or top-level setting, or an option whose package is not installed, is
    one `octsr: error:` line and exit status 2, before anything runs."""
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv or "-h" in argv:
        try:
            print(help_text(config_name), flush=True)
        except BrokenPipeError:  # `--help | head`: the reader left; no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    message = unknown_group_option(argv) or unknown_key(config_name, argv) or missing_option_extra(argv)
    if message:
        fail(message)


# Hydra's flags that take a word after them, and the words they take.
_INFO = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
HYDRA_FLAG_VALUES = {"--cfg": {"job", "hydra", "all"}, "-c": {"job", "hydra", "all"}, "--info": _INFO, "-i": _INFO}


def positional_as_setting(argv: list[str], setting: str, many: bool = True) -> list[str]:
    """`argv` with its bare words (no `=`, no leading `-`) gathered into one list setting:
    `report runs/a runs/b` reads as `report setting=['runs/a','runs/b']`, each quoted so that
    commas, spaces and brackets in a path stay part of it; with `many` false, the one bare
    word is the setting's value (`phantom pairs/` reads as `phantom setting='pairs/'`)."""
    kept, bare = [], []
    for i, arg in enumerate(argv):
        takes_value = i > 0 and argv[i - 1] in HYDRA_FLAG_VALUES and arg in HYDRA_FLAG_VALUES[argv[i - 1]]
        (bare if "=" not in arg and not arg.startswith("-") and not takes_value else kept).append(arg)
    if not bare:
        return argv
    if not many:
        if len(bare) > 1:
            fail(f"{' '.join(bare)}: one {setting} only (or {setting}=...)")
        return [*kept, f"{setting}={quoted(bare[0])}"]
    return [*kept, f"{setting}=[{','.join(map(quoted, bare))}]"]


def quoted(value: str) -> str:
    """`value` as a quoted string in a Hydra override, so that commas, spaces, brackets and
    quotes in a path stay part of it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def command(config_name: str, job: Callable[[DictConfig], Any], positional: str | None = None,
            many: bool = True) -> Callable[[], None]:
    """An entry point's `cli()` (`python -m octsr.<name>`, the `octsr-<name>` command): the
    command line checked, `conf/<config_name>.yaml` composed, `job` run on it, and a mistake a
    user can fix ended in one line (exit status 2), Ctrl-C in one line (status 130). In a
    sweep (`-m`), one failed run must not end the others: its reason goes to its folder's
    FAILED.txt and the sweeper gets NaN; what `job` returns is what the sweeper optimizes.
    `positional`: the setting that bare words on the command line fill: a list (report's
    paths), or with `many` false one value (the phantom's folder)."""
    @hydra.main(version_base="1.3", config_path="pkg://octsr.conf", config_name=config_name)
    @functools.wraps(job)  # Hydra names the job, and so its log file, after `job`'s module
    def main(cfg: DictConfig) -> Any:
        try:
            return job(cfg)
        except Exception as err:
            if in_multirun():
                record_failure(cfg.paths.output_dir, err)
                return float("nan")
            exit_on_user_error(err)

    def cli() -> None:
        if positional:
            sys.argv[1:] = positional_as_setting(sys.argv[1:], positional, many)
        try:
            check_command_line(config_name)
            main()
        except KeyboardInterrupt as err:
            exit_on_interrupt(err)

    return cli
