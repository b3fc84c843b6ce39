"""Write docs/configuration.md from conf/: every config file, every key, its default and its
meaning (the YAML comment on or above the key). `--check` fails when the committed page is
stale, or a key of octsr's own has no comment (tests/test_docs.py runs it).

    python docs/make_configuration.py            # rewrite docs/configuration.md
    python docs/make_configuration.py --check
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from octsr.utils.cli import COMMANDS  # the entry points, each documented first

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
PAGE = REPO / "docs" / "configuration.md"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[\w./-]+|'[^']*'|\"[^\"]*\"):(?P<rest>.*)$")


@dataclass
class Setting:
    key: str
    value: str
    meaning: str
    owner: str = ""  # the `_target_` of the mapping it belongs to
    comment_indent: int = -1  # where an inline comment started (its continuation lines align)


@dataclass
class ConfigFile:
    path: Path
    package: str
    about: list[str] = field(default_factory=list)  # the file's header comment, line by line
    settings: list[Setting] = field(default_factory=list)


def _split_comment(text: str) -> tuple[str, str, int]:
    """(value, comment, comment column) of the text after a key's colon; a `#` inside quotes
    or braces is not a comment."""
    depth, quote = 0, None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "#" and depth == 0 and (i == 0 or text[i - 1] == " "):
            return text[:i].strip(), text[i + 1 :].strip(), i
    return text.strip(), "", -1


def parse(path: Path) -> ConfigFile:
    group = path.parent.relative_to(CONF).as_posix()
    lines = path.read_text().splitlines()
    global_package = any(line.strip() == "# @package _global_" for line in lines)
    package = "" if global_package or group == "." else group.replace("/", ".")
    config = ConfigFile(path, package)
    stack: list[tuple[int, str, str]] = []  # (indent, dotted key, _target_ of that mapping)
    pending: list[str] = []
    last: Setting | None = None
    in_defaults = False
    for line in lines:
        stripped = line.strip()
        header = not config.settings and not in_defaults
        if not stripped or header and KEY.match(line) and (line.startswith(("defaults:", "_target_:"))
                                                            or not KEY.match(line)["rest"].strip()):
            # The comments at the top of a file describe the file, unless a setting follows them.
            if header and pending:
                config.about += pending
                pending = []
            if not stripped:
                pending, last = [], None
                continue
        if stripped.startswith("#"):
            text = stripped[1:].removeprefix(" ").rstrip()  # indented text (examples) stays indented
            if text.startswith("@package"):
                continue
            column = len(line) - len(line.lstrip())
            if last is not None and last.comment_indent >= 0 and abs(column - last.comment_indent) <= 2:
                last.meaning += " " + text.strip()  # the inline comment goes on below its key
            else:
                pending.append(text)
            continue
        if stripped.startswith("- "):
            if last is not None and not in_defaults:
                last.value += (", " if last.value else "") + _split_comment(stripped[2:])[0]
            continue
        match = KEY.match(line)
        if not match:
            continue
        indent, key = len(match["indent"]), match["key"].strip("'\"")
        if indent == 0:
            in_defaults = key == "defaults"
            if in_defaults or key == "hydra" and path.name in {f"{e}.yaml" for e in COMMANDS}:
                in_defaults = True  # an entry point's own Hydra settings: plumbing, not documented
                pending, last = [], None
                continue
        if in_defaults:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else package
        owner = stack[-1][2] if stack else ""
        dotted = f"{parent}.{key}" if parent else key
        value, comment, column = _split_comment(match["rest"])
        if key == "_target_" and stack:
            stack[-1] = (stack[-1][0], stack[-1][1], value)
        if not value:  # a mapping (or a block list) follows
            stack.append((indent, dotted, ""))
        setting = Setting(dotted, value, comment or " ".join(p.strip() for p in pending), owner,
                          len(line) - len(match["rest"]) + column if column >= 0 else -1)
        config.settings.append(setting)
        pending, last = [], setting
    # A mapping's `_target_` is known only once read: hand it to the mapping's settings.
    targets = {s.key.rsplit(".", 1)[0]: s.value for s in config.settings if s.key.endswith("._target_")}
    if not package and any(s.key == "_target_" for s in config.settings):
        targets[""] = next(s.value for s in config.settings if s.key == "_target_")
    for s in config.settings:
        s.owner = targets.get(s.key.rsplit(".", 1)[0] if "." in s.key else "", "")
    return config


def inherit(configs: list[ConfigFile]) -> None:
    """A key documented in one file (`trainer.max_epochs` in trainer/default.yaml) keeps its
    meaning, and the class it is an argument of, where another file sets it (debug=tiny)."""
    known = {s.key: s.meaning for c in configs for s in c.settings if s.meaning}
    owners = {s.key.rsplit(".", 1)[0]: s.value for c in configs for s in c.settings if s.key.endswith("._target_")}
    for s in (s for c in configs for s in c.settings):
        if not s.meaning and s.key in known:
            s.meaning = known[s.key]
        if not s.owner and "." in s.key:
            s.owner = owners.get(s.key.rsplit(".", 1)[0], "")


def meaning(setting: Setting) -> str:
    """The comment; else what can be said from the value or the class it is an argument of."""
    if setting.meaning:
        return setting.meaning
    name = setting.key.rsplit(".", 1)[-1]
    if name == "_target_":
        return "the class built from these settings"
    if name == "_partial_":
        return "built when used (Hydra partial), not at start"
    if re.fullmatch(r"\$\{[\w.]+\}", setting.value):
        return f"set from `{setting.value[2:-1]}`"
    if setting.owner and not setting.owner.startswith("octsr."):
        return f"argument of `{setting.owner}` (its documentation)"
    return ""


def undocumented(configs: list[ConfigFile]) -> list[str]:
    return [f"{c.path.relative_to(REPO)}: {s.key}" for c in configs for s in c.settings
            if not meaning(s) and s.value != ""]


def files() -> list[Path]:
    entry = [CONF / f"{e}.yaml" for e in COMMANDS]
    groups = sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF and p.parent.name != "hydra")
    return entry + groups + [CONF / "hydra" / "default.yaml"]


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def about(lines: list[str]) -> list[str]:
    """A header comment as Markdown: indented lines (example commands) as code blocks."""
    out, in_code = [], False
    for line in lines:
        code = line.startswith("  ")
        if code != in_code:
            out += ["", "```bash"] if code else ["```", ""]
            in_code = code
        out.append(line[2:] if code else line.strip())
    if in_code:
        out.append("```")
    return ["\n".join(out).strip(), ""] if out else []


def render(configs: list[ConfigFile]) -> str:
    out = ["# Configuration", "",
           "Every setting of every config file in `conf/`, its default and what it means. Made by",
           "`python docs/make_configuration.py` from the files' own comments; `tests/test_docs.py`",
           "fails when this page is stale. Set any of them on the command line as `key=value`",
           "(`python -m octsr.train optim.lr=0.0003`), choose a file of a group as `group=option`.",
           "", "`???`: required, no default. `${x}`: the value of setting `x`.", ""]
    current_group = None
    for config in configs:
        rel = config.path.relative_to(CONF)
        group = rel.parent.as_posix()
        if group == ".":
            heading = f"## `octsr.{rel.stem}` (`conf/{rel.as_posix()}`)"
        else:
            if group != current_group:
                out += [f"## Group `{group}`", ""]
                current_group = group
            heading = f"### `{group}={rel.stem}` (`conf/{rel.as_posix()}`)"
        out += [heading, ""]
        out += about(config.about)
        shown = [s for s in config.settings if s.value != "" or meaning(s)]
        if shown:
            out += ["| key | default | meaning |", "| --- | --- | --- |"]
            out += [f"| `{s.key}` | {f'`{cell(s.value)}`' if s.value else ''} | {cell(meaning(s))} |" for s in shown]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale or a key has no comment")
    args = parser.parse_args(argv)
    configs = [parse(p) for p in files()]
    inherit(configs)
    text, missing = render(configs), undocumented(configs)
    if args.check:
        problems = [f"no meaning: {m}" for m in missing]
        if not PAGE.is_file() or PAGE.read_text() != text:
            problems.append(f"{PAGE.relative_to(REPO)} is stale: run python docs/make_configuration.py")
        print("\n".join(problems) or "docs/configuration.md is up to date")
        return 1 if problems else 0
    PAGE.write_text(text)
    print(f"wrote {PAGE} ({len(configs)} files, {sum(len(c.settings) for c in configs)} settings)")
    for m in missing:
        print(f"  no meaning: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
