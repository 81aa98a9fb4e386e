"""Run untrusted Python (a model's tool call, a benchmark's candidate code) in a sandbox.

`run_python(code, stdin=..., limits=...)` starts a fresh interpreter of the same Python
(`sys.executable -I -S -B`: the standard library works, site-packages, the user site, PYTHON*
variables and `.pyc` writing do not) running `sandbox_bootstrap.py`, which applies the limits
and then executes the code. What each layer guarantees:

- **private directory**: a fresh temp dir is the cwd, HOME and TMPDIR; it is removed afterwards.
- **scrubbed environment**: only PATH, LANG, HOME and TMPDIR are passed.
- **process group**: the child leads a new session; on timeout, excess output or exit, the
  whole group is killed with SIGKILL, so forked children do not outlive the call (a child
  that calls `setsid` itself could escape the group; forks are refused or budgeted, see below).
- **rlimits** (kernel): RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, no core dumps, and RLIMIT_NPROC=0
  when `max_forks == 0` (the kernel ignores RLIMIT_NPROC for root, hence the next layer).
- **network namespace** (kernel, when permitted): the child enters an empty network namespace
  (`unshare(CLONE_NEWNET)`, or with `CLONE_NEWUSER` when not root); connections fail with
  "Network is unreachable". `SandboxResult.isolation` says whether this layer was applied.
- **audit hook** (interpreter): refuses inet sockets, `os.fork` beyond `max_forks` per process
  (so at most 2**max_forks processes in all), exec/spawn/system/subprocess, writes, renames and
  deletions outside the private directory, `resource.setrlimit` and ctypes loading. It is defence
  in depth, not a security boundary against an interpreter escape.
- **wall clock**: the parent kills the group after `wall_seconds`.
- **output cap**: stdout and stderr are each kept up to `max_output_bytes`; past that the group is
  killed and the result is marked `truncated` with `killed_reason="output"`.

`run_python_async` runs the same thing in a worker thread so the event loop keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

KilledReason = Literal["cpu", "memory", "wall", "output"]
BOOTSTRAP = Path(__file__).with_name("sandbox_bootstrap.py")
READ_CHUNK = 65536
POLL_SECONDS = 0.02
# After the group is killed, how long to wait for pipes still held open by a process that left
# the group (a `setsid` in a forked child) before giving up on them.
DRAIN_SECONDS = 0.5


@dataclass(frozen=True)
class SandboxLimits:
    """How much a sandboxed run may use. `audit_hook` and `network_namespace` exist so tests can
    check each layer on its own; leave them on in real use."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_bytes: int = 512 * 1024 * 1024
    file_size_bytes: int = 16 * 1024 * 1024
    max_output_bytes: int = 64 * 1024
    max_forks: int = 0
    network_namespace: bool = True
    audit_hook: bool = True

    def __post_init__(self) -> None:
        if self.wall_seconds <= 0 or self.cpu_seconds < 1:
            raise ValueError("sandbox limits: wall_seconds must be > 0 and cpu_seconds >= 1")
        if self.memory_bytes < 64 * 1024 * 1024:
            raise ValueError("sandbox limits: memory_bytes must be at least 64 MiB")
        if self.max_output_bytes < 1 or self.file_size_bytes < 0 or self.max_forks < 0:
            raise ValueError("sandbox limits: sizes and max_forks must not be negative")


@dataclass(frozen=True)
class SandboxResult:
    """What a run produced. `exit_code` is the process status (negative: killed by that signal).
    `timed_out` is true when a time limit (wall or CPU) stopped the run; `killed_reason` says
    which limit stopped it, if any. `isolation` names the OS isolation layers that applied."""

    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    killed_reason: KilledReason | None
    duration_s: float
    truncated: bool
    isolation: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed_reason is None


def _environment(directory: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "HOME": directory, "TMPDIR": directory}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Capture:
    """Bytes read from one pipe, kept up to a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.overflow = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.overflow = True
        self.data += chunk[: max(room, 0)]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def run_python(code: str, *, stdin: str = "",
               limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run `code` with `stdin` under `limits` and report what happened; never raises for
    anything the code does (only for an unusable host, e.g. no temp dir)."""
    directory = tempfile.mkdtemp(prefix="masdsl-sandbox-")
    try:
        return _run_in(directory, code, stdin, limits)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def run_python_async(code: str, *, stdin: str = "",
                           limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """`run_python` in a worker thread, so the event loop is not blocked while the code runs."""
    return await asyncio.to_thread(run_python, code, stdin=stdin, limits=limits)


def _run_in(directory: str, code: str, stdin: str, limits: SandboxLimits) -> SandboxResult:
    root = Path(directory)
    (root / "main.py").write_text(code, encoding="utf-8")
    (root / "stdin.txt").write_text(stdin, encoding="utf-8")
    status_read, status_write = os.pipe()
    config = {
        "code_path": str(root / "main.py"), "root": directory, "status_fd": status_write,
        "cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes,
        "file_size_bytes": limits.file_size_bytes, "max_forks": limits.max_forks,
        "network_namespace": limits.network_namespace, "audit_hook": limits.audit_hook,
    }
    (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-I", "-S", "-B", str(BOOTSTRAP), str(root / "config.json")]
    started = time.monotonic()
    with open(root / "stdin.txt", "rb") as stdin_file:
        try:
            process = subprocess.Popen(
                command, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=directory, env=_environment(directory), start_new_session=True,
                pass_fds=(status_write,), close_fds=True,
            )
        finally:
            os.close(status_write)
    try:
        return _supervise(process, status_read, started, limits)
    finally:
        _kill_group(process.pid)
        os.close(status_read)
        if process.returncode is None:
            process.wait()


def _supervise(process: subprocess.Popen[bytes], status_read: int, started: float,
               limits: SandboxLimits) -> SandboxResult:
    """Pump the pipes until the child exits and its pipes close, enforcing wall and output."""
    assert process.stdout is not None and process.stderr is not None
    captures = {process.stdout.fileno(): _Capture(limits.max_output_bytes),
                process.stderr.fileno(): _Capture(limits.max_output_bytes)}
    status = bytearray()
    selector = selectors.DefaultSelector()
    for fd in (*captures, status_read):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = started + limits.wall_seconds
    killed: KilledReason | None = None
    wait_status: int | None = None
    cpu_used = 0.0
    drain_until: float | None = None
    while selector.get_map():
        now = time.monotonic()
        if now >= deadline and killed is None:
            killed = "wall"
            _kill_group(process.pid)
        if killed is not None or wait_status is not None:
            drain_until = drain_until or now + DRAIN_SECONDS
            if now >= drain_until:
                break
        for key, _ in selector.select(timeout=POLL_SECONDS):
            fd = int(key.fd)
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(fd)
            elif fd == status_read:
                status += chunk
            else:
                captures[fd].add(chunk)
                if captures[fd].overflow and killed is None:
                    killed = "output"
                    _kill_group(process.pid)
        if wait_status is None:
            pid, raw_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                wait_status = raw_status
                cpu_used = usage.ru_utime + usage.ru_stime
                # The leader is gone: whatever it forked must not keep the pipes open.
                _kill_group(process.pid)
    selector.close()
    if wait_status is None:
        _, wait_status, usage = os.wait4(process.pid, 0)
        cpu_used = usage.ru_utime + usage.ru_stime
    exit_code = os.waitstatus_to_exitcode(wait_status)
    process.returncode = exit_code
    messages = status.decode("utf-8", errors="replace").splitlines()
    if killed is None:
        if exit_code == -signal.SIGXCPU or (
            exit_code == -signal.SIGKILL and cpu_used >= limits.cpu_seconds
        ):
            killed = "cpu"
        elif "memory" in messages:
            killed = "memory"
    isolation = [line.split(" ", 1)[1] for line in messages if line.startswith("isolation ")]
    hook = "audit" if limits.audit_hook else ""
    layers = tuple(x for x in (*isolation, hook) if x and x != "none")
    return SandboxResult(
        stdout=captures[process.stdout.fileno()].text(),
        stderr=captures[process.stderr.fileno()].text(),
        exit_code=exit_code,
        timed_out=killed in ("wall", "cpu"),
        killed_reason=killed,
        duration_s=time.monotonic() - started,
        truncated=any(capture.overflow for capture in captures.values()),
        isolation=layers,
    )
