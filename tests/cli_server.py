"""Run octsr commands as `python -m` does, each in a process of its own, without paying for
Python, torch and Lightning to start each time: this process imports them once, then forks
one child per command. The child is a new process like any other (its own folder, arguments,
environment, stdout and stderr as files, exit status); it only skips the five seconds of
imports, which were most of the time of the short commands the tests run.

Requests come one JSON line at a time on stdin ({"module", "args", "cwd", "env", "stdout",
"stderr"}); for each, a line {"pid": ...} goes back as soon as the child starts (so the test
side can kill it when it runs too long) and a line {"returncode": ...} when it ends.
`CliServer` is the test side (tests/conftest.py: run_cli).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

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


# Variables a process reads while it imports torch and its libraries: a command that sets
# one of them differently needs a Python of its own, not a child of the preloaded one.
READ_AT_START = ("OMP_", "MKL_", "KMP_", "OPENBLAS_", "CUDA_", "TORCH", "PYTHON", "LD_", "HYDRA_")


class CliServer:
    """The test side: starts this script once (again if it stopped) and runs commands through
    it, one at a time, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] = {}
        self.unread = b""

    def run(self, module: str, args: list[str], cwd: Path, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        """`python -m module args` in `cwd` with `env`: forked from the server, or, where a fork
        would not be the same process (not Linux, other start-up variables), a Python of its own."""
        command = [sys.executable, "-m", module, *args]
        # Forking a process that has loaded torch is safe on Linux; elsewhere each command starts afresh.
        with self.lock:
            if sys.platform.startswith("linux"):
                self._start()
                keys = {k for k in {*env, *self.env} if k.startswith(READ_AT_START)}
                if all(env.get(k) == self.env.get(k) for k in keys):
                    return self._forked(command, module, args, cwd, env, timeout)
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def _forked(self, command: list[str], module: str, args: list[str], cwd: Path, env: dict[str, str],
                timeout: float) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            request = {"module": module, "args": args, "cwd": str(cwd), "env": env, "stdout": str(out),
                       "stderr": str(err)}
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            pid = self._reply()["pid"]
            ended = self._reply(timeout)
            if ended is None:
                os.kill(pid, signal.SIGKILL)
                self._reply()
            output = [path.read_text(errors="replace") if path.exists() else "" for path in (out, err)]
        if ended is None:
            raise subprocess.TimeoutExpired(command, timeout, *output)
        return subprocess.CompletedProcess(command, ended["returncode"], *output)

    def _start(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.env, self.unread = {**os.environ, "PYTHONUNBUFFERED": "1"}, b""
            self.process = subprocess.Popen([sys.executable, __file__], cwd=Path(__file__).parents[1], env=self.env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def _reply(self, timeout: float | None = None) -> dict | None:
        """The server's next reply line, or None if none came within `timeout` seconds."""
        while b"\n" not in self.unread:
            if not select.select([self.process.stdout], [], [], timeout)[0]:
                return None
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("tests/cli_server.py stopped; its errors are in the test output")
            self.unread += chunk
        line, self.unread = self.unread.split(b"\n", 1)
        return json.loads(line)


if __name__ == "__main__":
    main()
