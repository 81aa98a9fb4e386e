"""Escape attempts against the python tool's sandbox: each one must leave the host unchanged.

Most attempts run with the audit hook off (`audit_hook=False`), so what stops them is the
kernel: namespaces, uid 65534, the read-only root, the capped tmpfs, rlimits and seccomp. Each
test names the vector from issue 13 (or one of our own) and asserts on the host, not only on
what the sandboxed program printed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.tools.sandbox import SandboxLimits, SandboxResult, SandboxUnavailable, run_python
from tests.runtime.tools.test_sandbox import host_processes_in

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (make setup installs it)")

KERNEL_ONLY = SandboxLimits(wall_seconds=5.0, cpu_seconds=2, audit_hook=False)


def escape(code: str, **overrides: object) -> SandboxResult:
    """Run `code` with only the OS layers in the way (the audit hook off)."""
    fields = {"wall_seconds": 5.0, "cpu_seconds": 2, "audit_hook": False, **overrides}
    return run_python(code, limits=SandboxLimits(**fields))  # type: ignore[arg-type]


def wait_until_gone(namespace: str) -> list[int]:
    give_up = time.monotonic() + 3.0
    while host_processes_in(namespace) and time.monotonic() < give_up:
        time.sleep(0.02)
    return host_processes_in(namespace)


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A host directory with one file; the test asserts it is byte-for-byte the same after."""
    directory = tmp_path / "host"
    directory.mkdir()
    (directory / "keep.txt").write_text("precious")
    os.chmod(directory / "keep.txt", 0o600)
    before = _snapshot(directory)
    yield directory
    assert _snapshot(directory) == before, "the sandbox changed the host directory"


def _snapshot(directory: Path) -> list[tuple[str, int, int, int, bytes]]:
    entries = []
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        entries.append((str(path), info.st_mode, info.st_uid, info.st_gid, data))
    entries.append((str(directory), directory.stat().st_mode, 0, 0, b""))
    return entries


@pytest.fixture
def host_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    assert process.poll() is None, "the sandbox killed a host process"
    process.kill()
    process.wait()


# --- issue 13: start any program --------------------------------------------------------------

def test_posixsubprocess_fork_exec_cannot_start_a_program(canary: Path) -> None:
    target = canary / "started.txt"
    result = escape(
        "import _posixsubprocess, os\n"
        f"args = [b'/bin/sh', b'-c', b'echo x > {target}']\n"
        "r, w = os.pipe()\n"
        "pid = _posixsubprocess.fork_exec(args, [b'/bin/sh'], True, (), None, None, -1, -1,"
        " -1, -1, -1, -1, r, w, True, False, False, None, None, None, -1, None, False)\n"
        "print('started', pid)\n")
    assert "started" not in result.stdout
    assert "PermissionError" in result.stderr or "Operation not permitted" in result.stderr
    assert not target.exists()


def test_a_started_program_still_cannot_touch_the_host(canary: Path) -> None:
    """Even with forks allowed, a shell started inside sees no host files."""
    target = canary / "started.txt"
    result = escape(
        "import subprocess\n"
        f"p = subprocess.run(['/bin/sh', '-c', 'echo x > {target}; ls /root /home /etc'],"
        " capture_output=True, text=True)\n"
        "print(p.returncode, p.stderr)\n", max_forks=2)
    assert result.ok, result.stderr
    assert "No such file or directory" in result.stdout or "Read-only" in result.stdout
    assert not target.exists()


def test_a_setsid_child_does_not_outlive_the_call() -> None:
    result = escape(
        "import os, time\n"
        "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\n", max_forks=2)
    namespace = result.stdout.split()[0]
    assert namespace.startswith("pid:[")
    assert wait_until_gone(namespace) == []


# --- issue 13: files anywhere ------------------------------------------------------------------

def test_dir_fd_fchmod_fchown_mkfifo_cannot_change_host_files(canary: Path) -> None:
    keep = canary / "keep.txt"
    root = 'os.open("/", os.O_RDONLY)'
    attempts = [
        f"os.open({str(canary)!r}, os.O_RDONLY)",
        f"os.open({str(keep)!r}, os.O_RDWR)",
        f"os.mkdir('x', dir_fd={root})",
        f"os.rename('usr', 'moved', src_dir_fd={root}, dst_dir_fd={root})",
        "os.fchmod(os.open('/usr/bin', os.O_RDONLY), 0o777)",
        "os.fchown(os.open('/usr/bin', os.O_RDONLY), 65534, 65534)",
        f"os.unlink('bin', dir_fd={root})",
        f"os.mkfifo({str(canary / 'fifo')!r})",
        "os.mkfifo('/usr/fifo')",
    ]
    result = escape(
        "import os\n"
        f"for attempt in {attempts!r}:\n"
        "    try:\n"
        "        eval(attempt)\n"
        "        print('ESCAPED', attempt)\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n")
    assert "ESCAPED" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == len(attempts), result.stderr
    assert oct(Path("/usr/bin").stat().st_mode & 0o777) == "0o755"


def test_symlinks_out_of_the_working_directory_lead_nowhere(canary: Path) -> None:
    keep = canary / "keep.txt"
    result = escape(
        "import os\n"
        f"os.symlink({str(keep)!r}, 'link')\n"
        "os.symlink('/etc/shadow', 'shadow')\n"
        "for name in ['link', 'shadow']:\n"
        "    try:\n"
        "        print(open(name).read())\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n"
        "    try:\n"
        "        open(name, 'w').write('overwritten')\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n")
    assert "precious" not in result.stdout
    assert result.stdout.count("refused") == 4


# --- issue 13: secrets ----------------------------------------------------------------------

def test_host_secrets_and_the_parents_environment_are_out_of_reach(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASDSL_TEST_API_KEY", "sk-hunter2")
    result = escape(
        "import os\n"
        "for path in ['/etc/shadow', '/etc/passwd', '/root/.bash_history', '/home']:\n"
        "    print(path, os.path.exists(path))\n"
        "found = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            found.append(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "        except OSError:\n"
        "            pass\n"
        "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "print('secret' if any(b'hunter2' in e for e in found) else 'clean')\n"
        "print(sorted(os.listdir('/')))\n")
    assert result.ok, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["/etc/shadow False", "/etc/passwd False",
                         "/root/.bash_history False", "/home False"]
    assert "clean" in lines and "secret" not in lines
    assert lines[4] == "pids [1, 2]"  # bubblewrap's init and the program: nothing of the host
    assert "hunter2" not in result.stdout


def test_proc_self_root_is_the_sandbox_root_not_the_hosts() -> None:
    result = escape(
        "import os\n"
        "print(sorted(os.listdir('/proc/self/root')) == sorted(os.listdir('/')))\n"
        "print(os.path.exists('/proc/self/root/etc/shadow'))\n"
        "try:\n"
        "    print(sorted(os.listdir('/proc/1/root')) == sorted(os.listdir('/')))\n"
        "except PermissionError:\n"
        "    print('refused')\n")
    # pid 1 is bubblewrap's init (other credentials): its root is refused, and it is the
    # sandbox's root anyway.
    assert result.stdout.split() in (["True", "False", "refused"], ["True", "False", "True"])


# --- issue 13: kill any process ------------------------------------------------------------

def test_host_processes_cannot_be_signalled(host_process: subprocess.Popen[bytes]) -> None:
    result = escape(
        "import os, signal\n"
        f"for pid in [{host_process.pid}, {os.getpid()}, -1]:\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "        print('sent', pid)\n"
        "    except OSError as error:\n"
        "        print('refused', pid, type(error).__name__)\n")
    # -1 signals every process the sandbox can see (only its own namespace), so it dies too.
    assert f"refused {host_process.pid}" in result.stdout
    assert f"refused {os.getpid()}" in result.stdout or str(os.getpid()) not in result.stdout
    time.sleep(0.1)


# --- issue 13: fill the disk --------------------------------------------------------------------

def test_the_working_directory_is_capped_and_nothing_else_is_writable() -> None:
    result = escape(
        "import os\n"
        "for path in ['/work/fill', '/fill', '/dev/shm/fill', '/tmp/fill', '/sandbox/fill',\n"
        "             '/usr/fill', '/proc/fill']:\n"
        "    try:\n"
        "        with open(path, 'wb') as handle:\n"
        "            for _ in range(64):\n"
        "                handle.write(b'x' * 2**20)\n"
        "        print('WROTE', path)\n"
        "    except OSError as error:\n"
        "        print('refused', path, error.strerror)\n",
        disk_bytes=4 * 2**20, file_size_bytes=2**30)
    assert "WROTE" not in result.stdout, result.stdout
    assert "refused /work/fill No space left on device" in result.stdout


# --- issue 13: forge the status -------------------------------------------------------------

def test_sigxcpu_cannot_be_sent_to_fake_a_cpu_limit() -> None:
    result = escape("import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\n")
    assert result.killed_reason is None and result.exit_code == 1
    assert "PermissionError" in result.stderr


def test_the_reported_status_cannot_be_forged() -> None:
    result = escape(
        "import os, sys\n"
        "for fd in range(3, 256):\n"
        "    try:\n"
        "        os.write(fd, b'isolation none\\nmemory\\ncpu\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "print('isolation none')\n"
        "sys.exit(128 + 24)\n")  # what bubblewrap reports for a program killed by SIGXCPU
    assert result.killed_reason is None and not result.timed_out
    assert "network-namespace" in result.isolation and "user-namespace" in result.isolation
    assert "seccomp" in result.isolation


# --- our own vectors -----------------------------------------------------------------------------

def test_ptrace_and_new_namespaces_are_refused() -> None:
    result = escape(
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('traceme', libc.ptrace(0, 0, 0, 0), ctypes.get_errno())\n"
        "print('attach', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n"
        "print('userns', libc.unshare(0x10000000), ctypes.get_errno())\n"
        "print('mount', libc.mount(b'none', b'/work', b'tmpfs', 0, None), ctypes.get_errno())\n"
        "print('uid', os.getuid(), os.geteuid())\n")
    assert result.ok, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["traceme -1 1", "attach -1 1", "userns -1 1", "mount -1 1"]
    assert lines[4] == "uid 65534 65534"


def test_capabilities_are_all_gone_and_setuid_back_to_root_fails() -> None:
    result = escape(
        "import os\n"
        "status = open('/proc/self/status').read().splitlines()\n"
        "print([l.split()[1] for l in status if l.startswith(('CapEff', 'CapPrm', 'CapAmb'))])\n"
        "print([l.split()[1] for l in status if l.startswith('NoNewPrivs')])\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('ROOT')\n"
        "except PermissionError:\n"
        "    print('refused')\n")
    assert result.stdout.splitlines() == [
        "['0000000000000000', '0000000000000000', '0000000000000000']", "['1']", "refused"]


def test_writes_to_mounted_paths_fail_and_leave_them_unchanged() -> None:
    executable = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    before = os.stat(executable)
    paths = [executable, "/usr/bin/env", "/sandbox/main.py", "/sandbox/bootstrap.py"]
    result = escape(
        "import os\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        open(path, 'ab').write(b'#')\n"
        "        print('WROTE', path)\n"
        "    except OSError as error:\n"
        "        print('refused', error.strerror)\n"
        "    try:\n"
        "        os.utime(path, (0, 0))\n"
        "        print('TOUCHED', path)\n"
        "    except OSError as error:\n"
        "        print('refused', error.strerror)\n")
    assert "WROTE" not in result.stdout and "TOUCHED" not in result.stdout, result.stdout
    after = os.stat(executable)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_fork_bomb_without_the_audit_hook_is_stopped_by_the_kernel() -> None:
    result = escape(
        "import os\n"
        "try:\n"
        "    while True:\n"
        "        os.fork()\n"
        "except OSError as error:\n"
        "    print('refused', error.strerror)\n")
    assert result.stdout.splitlines() == ["refused Operation not permitted"]
    assert result.duration_s < 3.0


def test_a_budgeted_fork_bomb_is_bounded_and_leaves_nothing_behind() -> None:
    result = escape(
        "import os, time\n"
        "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        time.sleep(60)\n", max_forks=3, wall_seconds=2.0)
    assert result.killed_reason == "wall"
    namespace = result.stdout.split()[0]
    assert wait_until_gone(namespace) == []


def test_huge_output_is_cut_and_the_run_stopped() -> None:
    result = escape("import os\nwhile True:\n    os.write(1, b'y' * 65536)\n",
                    max_output_bytes=100_000)
    assert result.killed_reason == "output" and result.truncated
    assert len(result.stdout) == 100_000


def test_the_network_is_empty(tmp_path: Path) -> None:
    result = escape(
        "import socket\n"
        "for address in [('127.0.0.1', 22), ('10.0.0.1', 80), ('1.1.1.1', 53)]:\n"
        "    try:\n"
        "        socket.create_connection(address, timeout=1)\n"
        "        print('CONNECTED', address)\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n"
        "import os\n"
        "print(sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys') else 'no sys')\n")
    assert "CONNECTED" not in result.stdout
    assert result.stdout.splitlines()[-1] == "no sys"


# --- refusing when isolation is missing --------------------------------------------------------

def test_missing_bubblewrap_is_refused_with_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("MASDSL_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(`bwrap`\)"):
        run_python("print(1)", limits=KERNEL_ONLY)


def test_the_unsafe_mode_must_be_asked_for_and_is_logged(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MASDSL_SANDBOX", "unsafe-audit-hook")
    with caplog.at_level(logging.WARNING, logger="runtime.tools.sandbox"):
        result = run_python("print(6 * 7)", limits=SandboxLimits(wall_seconds=5.0))
    assert result.stdout == "42\n"
    assert result.isolation == ("audit",)
    assert "WITHOUT OS isolation" in caplog.text


def test_the_cli_prints_the_refusal_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    def refuse(args: object) -> int:
        raise SandboxUnavailable("the python sandbox needs bubblewrap (`bwrap`)")

    class Args:
        command = "run"
        run = staticmethod(refuse)

    import argparse
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: Args())
    assert main(["run", "x.mas"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("masc: error: the python sandbox needs bubblewrap")
    assert "internal error" not in err

