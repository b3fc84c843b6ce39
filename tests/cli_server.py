"""Run octsr commands as `python -m` does, each in a process of its own, without paying for
Python, torch and Lightning to start each time: this process imports them once, then forks
one child per command. The child is a new process like any other (its own folder, arguments,
environment, stdout and stderr as files, exit status); it only skips the five seconds of
imports, which were most of the time of the short commands the tests run.

Requests come one JSON line at a time on stdin ({"module", "args", "cwd", "env", "stdout",
"stderr"}); for each, a line {"pid": ...} goes back as soon as the child starts (so the test
side can kill it when it runs too long) and a line {"returncode": ...} when it ends.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import traceback

# What the entry points import once their settings are checked: the slow part of starting.
PRELOADED = ("torch", "pytorch_lightning", "torchmetrics", "hydra", "omegaconf", "cv2", "tifffile",
             "albumentations", "octsr.models.restoration_module", "octsr.data.datamodule", "octsr.inference")


def run_child(request: dict) -> None:
    """In the forked child: become `python -m module args` in `cwd` with `env`, then exit."""
    code = 1
    try:
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # what `python -m` puts first
        sys.modules.pop(request["module"], None)  # run afresh as __main__, as a new process would
        sys.argv = [request["module"], *request["args"]]
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
                code = 1
        except BaseException:  # what python -m prints before exiting with 1
            traceback.print_exc()
            code = 1
        # What the interpreter does at exit, in its order: the threading module's exit hooks
        # (which stop executors' manager threads, as joblib's), the join of non-daemon threads,
        # then atexit's functions.
        threading._shutdown()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def main() -> None:
    for name in PRELOADED:
        __import__(name)
    # The protocol keeps its own descriptors: a child's stdout must never be the reply pipe.
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            run_child(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
