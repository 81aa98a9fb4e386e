"""Run untrusted Python (a model's tool call, a benchmark's candidate code) in a sandbox.

`run_python(code, stdin=..., limits=...)` runs the code in a fresh interpreter of the same
Python (`-I -S -B`: the standard library works, site-packages and `.pyc` writing do not) under
`sandbox_bootstrap.py`. The security boundary is the kernel, set up by bubblewrap
(`sandbox_isolation.py`, which lists exactly what the program can see): new user, PID, mount,
network, IPC, UTS and cgroup namespaces, uid 65534 with no capabilities, a read-only root with
only the interpreter in it, a size-capped tmpfs working directory, and a seccomp filter.
On top of that:

- **scrubbed environment**: only PATH, LANG, HOME and TMPDIR (the working directory).
- **rlimits** (kernel): RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, no core dumps, RLIMIT_NPROC; with
  `max_forks == 0` seccomp refuses fork/vfork/clone of a process (threads still work).
- **every process killed at the end**: the program runs in its own PID namespace; when it
  exits, or the parent kills bubblewrap (wall clock, output cap), the kernel kills whatever is
  left, `setsid` children included.
- **audit hook** (interpreter): clear refusals for sockets, exec, forks past `max_forks`, writes
  outside the working directory, rlimit changes and ctypes. Defence in depth, not a boundary.
- **wall clock** and **output cap** enforced by the parent (`killed_reason` "wall"/"output").
- **no status channel from the code**: the parent reads the exit status and the kernel's
  resource usage; `isolation` lists the layers the parent itself set up.

When bubblewrap is missing or the kernel refuses the namespaces, `run_python` raises
`SandboxUnavailable` naming what is missing. It never falls back silently. The unisolated
audit-hook-only mode of earlier versions exists only on explicit request, for machines that
cannot isolate: `SandboxLimits(isolation="unsafe-audit-hook")` or the environment variable
`MASDSL_SANDBOX=unsafe-audit-hook`; each such run logs a warning. See docs/sandbox.md.

`run_python_async` runs the same thing in a worker thread so the event loop keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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

from runtime.tools.sandbox_isolation import (
    WORKDIR,
    SandboxUnavailable,
    cpu_seconds_of_children,
    start_isolated,
)
from runtime.tools.sandbox_seccomp import seccomp_program

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "UNSAFE_MODE",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "run_python",
    "run_python_async",
]

KilledReason = Literal["cpu", "memory", "wall", "output"]
IsolationMode = Literal["required", "unsafe-audit-hook"]
UNSAFE_MODE = "unsafe-audit-hook"
ENVIRONMENT_VARIABLE = "MASDSL_SANDBOX"
BOOTSTRAP = Path(__file__).with_name("sandbox_bootstrap.py")
READ_CHUNK = 65536
POLL_SECONDS = 0.02
# After the group is killed, how long to wait for pipes still held open by a process that left
# the group (only possible in the unsafe mode: isolated runs die with their PID namespace).
DRAIN_SECONDS = 0.5
# bubblewrap exits with 128 + the signal that killed the sandboxed program.
SIGNAL_EXIT_BASE = 128
# The last CPU sample can be one poll older than the kill.
CPU_SAMPLE_SLACK_SECONDS = 0.1
# RLIMIT_NPROC when forks are allowed: room for the fork budget and for concurrent runs.
MAX_PROCESSES = 4096
PROCESS_HEADROOM = 256
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxLimits:
    """How much a sandboxed run may use. `disk_bytes` caps the working directory's tmpfs.
    `isolation="unsafe-audit-hook"` runs without OS isolation (see the module docstring);
    `audit_hook=False` exists so tests can check the kernel layers on their own."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_bytes: int = 512 * 1024 * 1024
    file_size_bytes: int = 16 * 1024 * 1024
    disk_bytes: int = 64 * 1024 * 1024
    max_output_bytes: int = 64 * 1024
    max_forks: int = 0
    audit_hook: bool = True
    isolation: IsolationMode = "required"

    def __post_init__(self) -> None:
        if self.wall_seconds <= 0 or self.cpu_seconds < 1:
            raise ValueError("sandbox limits: wall_seconds must be > 0 and cpu_seconds >= 1")
        if self.memory_bytes < 64 * 1024 * 1024:
            raise ValueError("sandbox limits: memory_bytes must be at least 64 MiB")
        if (self.max_output_bytes < 1 or self.file_size_bytes < 0 or self.max_forks < 0
                or self.disk_bytes < 4096):
            raise ValueError("sandbox limits: sizes and max_forks must not be negative "
                             "(disk_bytes at least 4096)")
        if self.isolation not in ("required", UNSAFE_MODE):
            raise ValueError(f"sandbox limits: isolation must be 'required' or {UNSAFE_MODE!r}")


@dataclass(frozen=True)
class SandboxResult:
    """What a run produced. `exit_code` is the program's status (negative: killed by that
    signal). `timed_out` is true when a time limit (wall or CPU) stopped the run; `killed_reason`
    says which limit stopped it, if any. `isolation` names the layers the parent set up."""

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


def _mode(limits: SandboxLimits) -> IsolationMode:
    if os.environ.get(ENVIRONMENT_VARIABLE) == UNSAFE_MODE:
        return "unsafe-audit-hook"
    return limits.isolation


def _process_limit(limits: SandboxLimits, forks_refused_by_seccomp: bool) -> int:
    """RLIMIT_NPROC for the run. The kernel counts every process and thread of the uid on the
    host: as root the sandbox runs as 65534, shared by concurrent runs; otherwise as the
    caller, whose own processes count too. Without forks, seccomp refuses them, so the limit
    only has to leave room for threads; without seccomp it is 0 (no fork, and no thread)."""
    if limits.max_forks == 0 and not forks_refused_by_seccomp:
        return 0
    budget: int = min(MAX_PROCESSES, PROCESS_HEADROOM + 2 ** min(limits.max_forks, 12))
    if os.geteuid() != 0:
        budget += _processes_of(os.getuid())
    return budget


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += int(entry.stat().st_uid == uid)
    return count


def _config(root: str, code_path: str, limits: SandboxLimits,
            forks_refused_by_seccomp: bool = False) -> dict[str, object]:
    return {"code_path": code_path, "root": root, "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes, "file_size_bytes": limits.file_size_bytes,
            "max_forks": limits.max_forks, "audit_hook": limits.audit_hook,
            "max_processes": _process_limit(limits, forks_refused_by_seccomp)}


def run_python(code: str, *, stdin: str = "",
               limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run `code` with `stdin` under `limits` and report what happened. Never raises for
    anything the code does; raises SandboxUnavailable when isolation cannot be set up."""
    if _mode(limits) == UNSAFE_MODE:
        logger.warning("python sandbox running WITHOUT OS isolation (%s): the code can reach "
                       "the host; see docs/sandbox.md", UNSAFE_MODE)
        return _run_unisolated(code, stdin, limits)
    started = time.monotonic()
    seccomp = seccomp_program(allow_fork=limits.max_forks > 0)
    launch = start_isolated(
        bootstrap=BOOTSTRAP.read_bytes(), code=code.encode("utf-8", "surrogatepass"),
        stdin=stdin.encode("utf-8", "surrogatepass"),
        config=_config(WORKDIR, "/sandbox/main.py", limits, seccomp is not None),
        disk_bytes=limits.disk_bytes, seccomp=seccomp, environment=_environment(WORKDIR))
    try:
        return _supervise(launch.process, started, limits, (*launch.layers, *_hook(limits)),
                          init_pid=launch.init_pid)
    finally:
        _kill_group(launch.process.pid)
        if launch.process.returncode is None:
            launch.process.wait()


async def run_python_async(code: str, *, stdin: str = "",
                           limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """`run_python` in a worker thread, so the event loop is not blocked while the code runs."""
    return await asyncio.to_thread(run_python, code, stdin=stdin, limits=limits)


def _hook(limits: SandboxLimits) -> tuple[str, ...]:
    return ("audit",) if limits.audit_hook else ()


def _run_unisolated(code: str, stdin: str, limits: SandboxLimits) -> SandboxResult:
    """The explicitly unsafe mode: a private temp dir, rlimits and the audit hook only."""
    directory = tempfile.mkdtemp(prefix="masdsl-sandbox-")
    try:
        root = Path(directory)
        (root / "main.py").write_text(code, encoding="utf-8")
        (root / "stdin.txt").write_text(stdin, encoding="utf-8")
        config = _config(directory, str(root / "main.py"), limits)
        command = [sys.executable, "-I", "-S", "-B", str(BOOTSTRAP), json.dumps(config)]
        started = time.monotonic()
        with open(root / "stdin.txt", "rb") as stdin_file:
            process = subprocess.Popen(
                command, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=directory, env=_environment(directory), start_new_session=True,
                close_fds=True)
        try:
            return _supervise(process, started, limits, _hook(limits), init_pid=None)
        finally:
            _kill_group(process.pid)
            if process.returncode is None:
                process.wait()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _exit_code(wait_status: int, isolated: bool) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    if isolated and SIGNAL_EXIT_BASE < code < SIGNAL_EXIT_BASE + 65:
        return -(code - SIGNAL_EXIT_BASE)  # bubblewrap's way of passing on a signal
    return code


def _supervise(process: subprocess.Popen[bytes], started: float, limits: SandboxLimits,
               layers: tuple[str, ...], *, init_pid: int | None) -> SandboxResult:
    """Pump the pipes until the child exits and its pipes close, enforcing wall and output.
    Under bubblewrap (`init_pid` set) the CPU time is sampled from the host's /proc while the
    program runs, since bubblewrap does not pass its children's resource usage on."""
    isolated = init_pid is not None
    assert process.stdout is not None and process.stderr is not None
    captures = {process.stdout.fileno(): _Capture(limits.max_output_bytes),
                process.stderr.fileno(): _Capture(limits.max_output_bytes)}
    selector = selectors.DefaultSelector()
    for fd in captures:
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
            else:
                captures[fd].add(chunk)
                if captures[fd].overflow and killed is None:
                    killed = "output"
                    _kill_group(process.pid)
        if init_pid is not None and wait_status is None:
            sampled = cpu_seconds_of_children(init_pid)
            cpu_used = max(cpu_used, sampled or 0.0)
        if wait_status is None:
            pid, raw_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                wait_status = raw_status
                cpu_used = max(cpu_used, usage.ru_utime + usage.ru_stime)
                # The leader is gone: whatever it forked must not keep the pipes open.
                _kill_group(process.pid)
    selector.close()
    if wait_status is None:
        _, wait_status, usage = os.wait4(process.pid, 0)
        cpu_used = max(cpu_used, usage.ru_utime + usage.ru_stime)
    raw_exit = os.waitstatus_to_exitcode(wait_status)
    process.returncode = raw_exit
    exit_code = _exit_code(wait_status, isolated)
    stderr = captures[process.stderr.fileno()].text()
    if killed is None:
        # The kernel's resource usage, not the exit code (which the code chooses), decides.
        # Under seccomp no process of the sandbox can send SIGXCPU, only the kernel's CPU limit
        # can; but a program may exit with 128 + SIGXCPU, which bubblewrap reports the same
        # way, so the parent's own CPU samples (possibly one late poll behind) must agree.
        needed = limits.cpu_seconds * (0.5 if "seccomp" in layers else 1.0)
        by_xcpu = exit_code == -signal.SIGXCPU and cpu_used >= needed - CPU_SAMPLE_SLACK_SECONDS
        by_kill = (exit_code == -signal.SIGKILL
                   and cpu_used >= limits.cpu_seconds - CPU_SAMPLE_SLACK_SECONDS)
        if by_xcpu or by_kill:
            killed = "cpu"
        elif exit_code == 1 and _ends_with_memory_error(stderr):
            killed = "memory"
    return SandboxResult(
        stdout=captures[process.stdout.fileno()].text(),
        stderr=stderr,
        exit_code=exit_code,
        timed_out=killed in ("wall", "cpu"),
        killed_reason=killed,
        duration_s=time.monotonic() - started,
        truncated=any(capture.overflow for capture in captures.values()),
        isolation=layers,
    )


def _ends_with_memory_error(stderr: str) -> bool:
    """The code's own traceback ends in MemoryError: a label only (the code controls stderr)."""
    lines = stderr.rstrip().splitlines()
    return bool(lines) and lines[-1].startswith("MemoryError")
