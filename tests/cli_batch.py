"""Run several octsr commands in one Python process, one after another, as `python -m` would
run each: its arguments, its folder, its own stdout and stderr, its exit status.

Tests whose commands each take less time than starting Python with torch and Lightning use
this to start that process once. Commands come as JSON on stdin
([{"module": ..., "args": [...], "cwd": ...}, ...]); the results go as JSON to the file named
by the one argument (not to stdout, where a library may still write).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import traceback


def run(module_name: str, args: list[str], cwd: str) -> dict:
    from hydra.core.global_hydra import GlobalHydra

    out, err = io.StringIO(), io.StringIO()
    os.chdir(cwd)
    sys.argv = [module_name, *args]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            module = importlib.import_module(module_name)
            (module.cli if hasattr(module, "cli") else module.main)()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:  # what python -m would print before exiting with 1
            traceback.print_exc()
            code = 1
    GlobalHydra.instance().clear()  # each command composes its own config, as in a new process
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main() -> None:
    commands = json.load(sys.stdin)
    results_path = os.path.abspath(sys.argv[1])
    results = [run(c["module"], c["args"], c["cwd"]) for c in commands]
    with open(results_path, "w") as results_file:
        json.dump(results, results_file)


if __name__ == "__main__":
    main()
