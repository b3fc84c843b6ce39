"""Optional dependencies (pyproject.toml's extras): what the main job, train and enhance,
does not need. Asking for a feature whose extra is missing is one line naming the extra."""

from __future__ import annotations

import importlib.util

from octsr.errors import ConfigError


# Packages an extra needs that are installed on their own, without their declared
# requirements (`make install` does it): OCT-Converter's would add opencv-python beside the
# opencv-python-headless octsr's other packages use, and each overwrites the other's cv2.
INSTALLED_WITHOUT_REQUIREMENTS = {"oct_converter": "oct-converter==0.7.0"}


def missing_extra(module: str, extra: str, feature: str, instead: str = "") -> str | None:
    """The message when `module` (of the `extra`) cannot be imported, else None."""
    if importlib.util.find_spec(module.split(".")[0]) and importlib.util.find_spec(module):
        return None
    install = f"pip install 'octsr[{extra}]'"
    alone = INSTALLED_WITHOUT_REQUIREMENTS.get(module.split(".")[0])
    if alone:
        install += f" and pip install --no-deps {alone}"
    return f"{feature} needs the '{extra}' extra: {install}" + (f" (or {instead})" if instead else "")


def require(module: str, extra: str, feature: str, instead: str = "") -> None:
    """Raise a one-line ConfigError before any work when `feature` cannot run here;
    `instead` names the setting that does without it."""
    message = missing_extra(module, extra, feature, instead)
    if message:
        raise ConfigError(message)
