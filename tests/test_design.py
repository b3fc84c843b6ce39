"""docs/design.md's table of parts is the import rule: the code may not import across it."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO


def allowed_imports() -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for line in (REPO / "docs" / "design.md").read_text().splitlines():
        if not line.startswith("| `octsr"):
            continue
        parts_cell, _, allowed_cell = [cell.strip() for cell in line.strip("|").split("|")][:3]
        allowed = set(re.findall(r"`(octsr[\w.]*)`", allowed_cell))
        anything = allowed_cell.startswith("any part above")
        for part in re.findall(r"`(octsr[\w.]*)`", parts_cell):
            rules[part] = {"*"} | allowed if anything else allowed
    return rules


def part_of(module: str, rules: dict[str, set[str]]) -> str | None:
    """The longest part in the table that `module` is, or lies inside."""
    matches = [p for p in rules if module == p or module.startswith(p + ".")]
    return max(matches, key=len) if matches else None


def test_every_octsr_import_follows_the_design_table():
    rules = allowed_imports()
    assert len(rules) >= 15, rules
    entry_points = {p for p, allowed in rules.items() if "*" in allowed}
    broken = []
    for path in sorted((REPO / "octsr").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        if module == "octsr":
            continue  # the package's own __init__ sets environment defaults for every part
        part = part_of(module, rules)
        assert part is not None, f"{module} is in no part of docs/design.md"
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if not name.startswith("octsr") or name == "octsr":
                    continue
                target = part_of(name, rules)
                if target == part:
                    continue
                if part in entry_points and target not in entry_points:
                    continue
                if target not in rules[part]:
                    broken.append(f"{module} imports {name} ({part} may import: {sorted(rules[part])})")
    assert not broken, "\n".join(broken)
