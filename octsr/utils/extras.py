"""Optional dependencies (pyproject.toml's extras): what the main job, train and enhance,
does not need. Asking for a feature whose extra is missing is one line naming the extra."""

from __future__ import annotations

import importlib.util

from octsr.errors import ConfigError


def missing_extra(module: str, extra: str, feature: str, instead: str = "") -> str | None:
    """The message when `module` (of the `extra`) cannot be imported, else None."""
    if importlib.util.find_spec(module.split(".")[0]) and importlib.util.find_spec(module):
        return None
    return f"{feature} needs the '{extra}' extra: pip install 'octsr[{extra}]'" + (f" (or {instead})" if instead else "")


def require(module: str, extra: str, feature: str, instead: str = "") -> None:
    """Raise a one-line ConfigError before any work when `feature` cannot run here;
    `instead` names the setting that does without it."""
    message = missing_extra(module, extra, feature, instead)
    if message:
        raise ConfigError(message)
