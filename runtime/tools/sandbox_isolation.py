"""Operating-system isolation for the sandbox: the bubblewrap (`bwrap`) command line.

`isolated_command(...)` builds the command that runs the sandbox's interpreter inside new user,
PID, mount, network, IPC, UTS and cgroup namespaces, and `start_isolated(...)` starts it. What
the program inside sees:

- a root file system that is an empty, read-only tmpfs with only these in it: `/usr` and the
  interpreter's own installation (read-only binds; merged-usr links such as `/lib -> usr/lib`
  are recreated, a real `/lib` is bound read-only), a private `/proc` of its own PID namespace,
  a minimal read-only `/dev` (null, zero, full, random, urandom, tty), its code and bootstrap
  as read-only files under `/sandbox`, and a writable tmpfs `/work` capped at
  `SandboxLimits.disk_bytes` (cwd, HOME and TMPDIR). No `/etc`, `/home`, `/root`, `/tmp`,
  `/var`, `/sys`, `/run`, no sockets, no host processes.
- uid and gid 65534 (nobody) with no capabilities and `no_new_privs`, so set-uid programs do
  not elevate. How that uid is made depends on who runs the runtime:
  * as an ordinary user, bubblewrap's own unprivileged mode: `--unshare-user --uid 65534`
    (65534 inside is the caller's uid outside) plus `--disable-userns`;
  * as root (CI, containers), bubblewrap would map the sandbox's uid to root outside, where
    the kernel ignores RLIMIT_NPROC and where file permissions mean nothing. So the parent
    writes the new user namespace's maps itself (`--userns-block-fd`, `--info-fd`):
    0 -> 0 (bubblewrap needs it to build the mounts) and 65534 -> 65534, keeps only
    CAP_SETUID/CAP_SETGID, and the bootstrap drops to 65534 (which clears every capability)
    before any user code runs. The processes of the sandbox are then `nobody` on the host too.
- an empty network namespace (only a loopback, not the host's).
- a seccomp filter (`sandbox_seccomp`) on x86-64.
- one PID namespace whose init is bubblewrap's: when the program ends, or the parent kills
  bubblewrap (`--die-with-parent` makes the namespace's init die with it), the kernel kills
  every process left in the namespace, including ones that called `setsid`.

Every input travels through file descriptors the parent opens (memfds for the code and the
bootstrap, the seccomp program, stdin); nothing is written to the host's disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 65534
WORKDIR = "/work"
SANDBOX_DIR = "/sandbox"
# Top-level host paths that may be links into /usr (merged-usr) or real directories.
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
INFO_TIMEOUT_SECONDS = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LAYERS = ("user-namespace", "pid-namespace", "mount-namespace", "network-namespace",
          "ipc-namespace", "uts-namespace", "uid-65534", "read-only-root", "disk-cap")


class SandboxUnavailable(RuntimeError):
    """OS isolation cannot be set up here; the message names what is missing and how to fix it.
    `setup_error` tells the CLI to print the message as it is, not as an internal error."""

    setup_error = True


@dataclass(frozen=True)
class Interpreter:
    """The real interpreter the sandbox runs and the host directories it needs."""

    executable: str
    roots: tuple[str, ...]


def find_interpreter() -> Interpreter:
    """This Python's base interpreter (not a venv's link), with its install prefix."""
    executable = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    if not any(executable.startswith(root + os.sep) for root in roots):
        roots.add(os.path.dirname(executable))
    kept = tuple(sorted(root for root in roots
                        if root != "/usr" and not root.startswith("/usr/")))
    return Interpreter(executable=executable, roots=kept)


def bwrap_path() -> str:
    """The bubblewrap binary, or SandboxUnavailable saying how to install it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "the python sandbox needs bubblewrap (`bwrap`) for OS isolation and it is not "
            "installed: run `apt-get install bubblewrap` (Debian/Ubuntu; `make setup` does it "
            "as root), or set MASDSL_SANDBOX=unsafe-audit-hook to accept the unisolated mode "
            "(see docs/sandbox.md)")
    return found


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@dataclass
class Launch:
    """A started sandbox: the bubblewrap process and the isolation layers it applies."""

    process: subprocess.Popen[bytes]
    layers: tuple[str, ...]
    init_pid: int


def _filesystem_arguments(interpreter: Interpreter) -> list[str]:
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            arguments += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            arguments += ["--ro-bind", str(host), str(host)]
    made: set[str] = set()
    for root in interpreter.roots:
        # bubblewrap copies the host's mode onto the directories it creates (/root is 0700),
        # so create the ancestors first, traversable by the sandbox's uid.
        for ancestor in reversed(Path(root).parents[:-1]):
            if str(ancestor) not in made:
                made.add(str(ancestor))
                arguments += ["--perms", "0755", "--dir", str(ancestor)]
        arguments += ["--ro-bind", root, root]
    return arguments


def start_isolated(*, bootstrap: bytes, code: bytes, stdin: bytes, config: dict[str, object],
                   disk_bytes: int, seccomp: bytes | None,
                   environment: dict[str, str]) -> Launch:
    """Start the bootstrap under bubblewrap; raise SandboxUnavailable when that fails."""
    bwrap = bwrap_path()
    interpreter = find_interpreter()
    as_root = os.geteuid() == 0
    owned: list[int] = []
    try:
        bootstrap_fd = _memfd("sandbox-bootstrap", bootstrap)
        code_fd = _memfd("sandbox-code", code)
        stdin_fd = _memfd("sandbox-stdin", stdin)
        owned += [bootstrap_fd, code_fd, stdin_fd]
        passed = [bootstrap_fd, code_fd]
        command = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                   "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox",
                   "--die-with-parent", "--new-session"]
        info_read, info_write = os.pipe()
        owned += [info_read, info_write]
        passed.append(info_write)
        command += ["--info-fd", str(info_write)]
        block_write = -1
        if as_root:
            block_read, block_write = os.pipe()
            owned += [block_read, block_write]
            passed.append(block_read)
            command += ["--userns-block-fd", str(block_read), "--cap-drop", "ALL",
                        "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            command += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                        "--disable-userns", "--cap-drop", "ALL"]
        command += _filesystem_arguments(interpreter)
        command += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
                    "--perms", "0777", "--size", str(max(disk_bytes, 4096)), "--tmpfs", WORKDIR,
                    "--perms", "0444", "--ro-bind-data", str(bootstrap_fd),
                    f"{SANDBOX_DIR}/bootstrap.py",
                    "--perms", "0444", "--ro-bind-data", str(code_fd), f"{SANDBOX_DIR}/main.py",
                    "--remount-ro", "/", "--chdir", WORKDIR]
        layers = list(LAYERS)
        if seccomp is not None:
            seccomp_fd = _memfd("sandbox-seccomp", seccomp)
            owned.append(seccomp_fd)
            passed.append(seccomp_fd)
            command += ["--seccomp", str(seccomp_fd)]
            layers.append("seccomp")
        config = {**config, "drop_to_uid": SANDBOX_UID if as_root else None}
        command += ["--", interpreter.executable, "-I", "-S", "-B",
                    f"{SANDBOX_DIR}/bootstrap.py", json.dumps(config)]
        try:
            process = subprocess.Popen(
                command, stdin=stdin_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=environment, start_new_session=True, pass_fds=tuple(passed),
                close_fds=True)
        except OSError as error:
            raise SandboxUnavailable(f"could not start bubblewrap ({bwrap}): {error}") from error
        os.close(info_write)
        owned.remove(info_write)
        try:
            init_pid = _read_info(process, info_read)
            if as_root:
                os.close(block_read)
                owned.remove(block_read)
                _map_user_namespace(init_pid, block_write)
        except SandboxUnavailable:
            _kill(process)
            raise
        return Launch(process=process, layers=tuple(layers), init_pid=init_pid)
    finally:
        for fd in owned:
            os.close(fd)


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _failure(process: subprocess.Popen[bytes]) -> SandboxUnavailable:
    """bubblewrap stopped before the sandbox existed: its own message says why."""
    try:
        process.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        _kill(process)
    message = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
    return SandboxUnavailable(
        f"bubblewrap could not create the sandbox: {message or 'no message'} (user, PID, "
        "mount or network namespaces may be disabled in this kernel or container; see "
        "docs/sandbox.md)")


def _read_info(process: subprocess.Popen[bytes], info_read: int) -> int:
    """bubblewrap's info JSON, written once the namespaces exist, names the host pid of the
    namespace's init (the sandboxed program is its child)."""
    deadline = time.monotonic() + INFO_TIMEOUT_SECONDS
    buffer = b""
    os.set_blocking(info_read, False)
    while True:
        if time.monotonic() > deadline:
            raise SandboxUnavailable("bubblewrap did not report its namespaces in time")
        try:
            chunk = os.read(info_read, 4096)
        except BlockingIOError:
            if process.poll() is not None:
                raise _failure(process) from None
            time.sleep(0.002)
            continue
        if not chunk:
            raise _failure(process)
        buffer += chunk
        try:
            info = json.loads(buffer)
        except ValueError:
            continue
        return int(info["child-pid"])


def _map_user_namespace(pid: int, block_write: int) -> None:
    """As root: map 0 -> 0 and 65534 -> 65534 into bubblewrap's new user namespace, then let
    it go on (see the module docstring for why bubblewrap's own map is not used)."""
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n"
    try:
        Path(f"/proc/{pid}/uid_map").write_text(mapping)
        Path(f"/proc/{pid}/gid_map").write_text(mapping)
    except OSError as error:
        raise SandboxUnavailable(f"could not map the sandbox's user namespace: {error}") from error
    os.write(block_write, b"1")


def cpu_seconds_of_children(init_pid: int) -> float | None:
    """CPU time (user + system) of the namespace's processes below init, read from the host's
    /proc; None once they are gone. The parent's own measurement: the code cannot forge it."""
    try:
        children = Path(f"/proc/{init_pid}/task/{init_pid}/children").read_text().split()
    except OSError:
        return None
    total = 0.0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total
