"""The sandbox stops each kind of runaway code and reports why; normal code just works."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from runtime.tools.sandbox import SandboxLimits, run_python, run_python_async

FAST = SandboxLimits(wall_seconds=2.0, cpu_seconds=1)


def test_normal_code_reads_stdin_and_uses_the_standard_library() -> None:
    result = run_python(
        "import json, math, fractions\n"
        "n = int(input())\n"
        "print(json.dumps([n * 2, math.isqrt(n), str(fractions.Fraction(n, 4))]))",
        stdin="16\n",
        limits=FAST,
    )
    assert result.ok
    assert result.stdout == '[32, 4, "4"]\n'
    assert (result.exit_code, result.killed_reason, result.timed_out) == (0, None, False)
    assert not result.truncated


def test_an_exception_is_reported_with_a_traceback_and_exit_code_1() -> None:
    result = run_python("print('before')\nraise ValueError('bad input')", limits=FAST)
    assert result.exit_code == 1 and result.killed_reason is None
    assert result.stdout == "before\n"
    assert 'File "<sandbox>", line 2' in result.stderr
    assert result.stderr.rstrip().endswith("ValueError: bad input")
    assert "sandbox_bootstrap" not in result.stderr


def test_sys_exit_code_is_passed_through() -> None:
    assert run_python("import sys; sys.exit(7)", limits=FAST).exit_code == 7


def test_sleeping_forever_is_stopped_by_the_wall_clock() -> None:
    result = run_python("import time\nwhile True: time.sleep(1)",
                        limits=SandboxLimits(wall_seconds=0.5, cpu_seconds=5))
    assert result.killed_reason == "wall" and result.timed_out
    assert result.exit_code < 0
    assert 0.5 <= result.duration_s < 2.0


def test_busy_loop_is_stopped_by_the_cpu_limit() -> None:
    # A generous wall clock: on a loaded machine one CPU second can take several wall seconds.
    result = run_python("while True: pass", limits=SandboxLimits(wall_seconds=20, cpu_seconds=1))
    assert result.killed_reason == "cpu" and result.timed_out
    assert result.exit_code < 0
    assert result.duration_s >= 1.0


def test_busy_loop_is_stopped_by_the_wall_clock_when_it_comes_first() -> None:
    result = run_python("while True: pass", limits=SandboxLimits(wall_seconds=0.5, cpu_seconds=5))
    assert result.killed_reason == "wall" and result.timed_out
    assert result.duration_s < 1.5


def test_fork_bomb_is_refused() -> None:
    result = run_python("import os\nwhile True:\n    os.fork()", limits=FAST)
    assert result.exit_code == 1
    assert "PermissionError: sandbox: process creation is blocked" in result.stderr
    assert result.duration_s < 1.5


def test_subprocess_is_refused() -> None:
    result = run_python("import subprocess\nsubprocess.run(['true'])", limits=FAST)
    assert result.exit_code == 1
    assert "running other programs is blocked" in result.stderr


def host_processes_in(namespace: str) -> list[int]:
    """Host pids of the processes that are still in the PID namespace `namespace`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_budgeted_fork_bomb_is_bounded_and_its_processes_are_killed() -> None:
    code = (
        "import os, time\n"
        "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            print(os.getpid(), flush=True)\n"
        "    except PermissionError:\n"
        "        time.sleep(60)\n"
    )
    result = run_python(code, limits=SandboxLimits(wall_seconds=1.0, max_forks=3))
    assert result.killed_reason == "wall"
    namespace, *children = result.stdout.split()
    assert 1 <= len(children) <= 2**3 - 1  # a budget of 3 forks per process: at most 8 processes
    # The PID namespace died with bubblewrap; give a loaded machine a moment to reap it.
    give_up = time.monotonic() + 2.0
    while host_processes_in(namespace) and time.monotonic() < give_up:
        time.sleep(0.02)
    assert host_processes_in(namespace) == []


def test_huge_allocation_raises_memory_error_and_is_reported() -> None:
    result = run_python("data = bytearray(10 * 1024**3)", limits=FAST)
    assert result.killed_reason == "memory"
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr


def test_socket_connect_to_localhost_is_blocked_by_the_audit_hook() -> None:
    result = run_python(
        "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)", limits=FAST)
    assert result.exit_code == 1
    assert "PermissionError: sandbox: network access is blocked" in result.stderr


def test_network_namespace_alone_refuses_a_listening_localhost_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        limits = SandboxLimits(wall_seconds=2.0, audit_hook=False)
        result = run_python(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "print('connected')", limits=limits)
    assert "network-namespace" in result.isolation
    assert "connected" not in result.stdout
    assert result.exit_code == 1
    # The sandbox's own loopback: nothing listens there, the host's port is out of reach.
    assert "Connection refused" in result.stderr or "unreachable" in result.stderr.lower()


def test_write_outside_the_private_directory_is_blocked(tmp_path: Path) -> None:
    target = tmp_path / "escape.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", limits=FAST)
    assert result.exit_code == 1
    assert "writing outside the sandbox directory" in result.stderr
    assert not target.exists()


def test_deleting_outside_the_private_directory_is_blocked(tmp_path: Path) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    result = run_python(f"import os\nos.remove({str(victim)!r})", limits=FAST)
    assert result.exit_code == 1 and victim.read_text() == "precious"


def test_file_size_limit_stops_large_writes_inside_the_directory() -> None:
    limits = SandboxLimits(wall_seconds=2.0, file_size_bytes=1000)
    result = run_python("with open('big.bin', 'wb') as f:\n    f.write(b'x' * 5000)", limits=limits)
    assert result.exit_code == 1
    assert "File too large" in result.stderr


def test_parent_environment_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASDSL_SECRET_TOKEN", "hunter2")
    code = "import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])"
    result = run_python(code, limits=FAST)
    assert result.stdout.splitlines() == ["['HOME', 'LANG', 'PATH', 'TMPDIR']", "True"]
    assert "hunter2" not in result.stdout


def test_site_packages_are_not_importable() -> None:
    result = run_python("import pydantic", limits=FAST)
    assert result.exit_code == 1 and "ModuleNotFoundError" in result.stderr


def test_private_directory_is_writable_and_lives_only_in_the_sandbox() -> None:
    marker = f"masdsl-note-{os.getpid()}-{time.monotonic_ns()}.txt"
    result = run_python(f"import os\nopen({marker!r}, 'w').write('hi')\nprint(os.getcwd())\n"
                        f"print(open({marker!r}).read())", limits=FAST)
    assert result.ok and result.stdout.split() == ["/work", "hi"]
    assert not list(Path(tempfile.gettempdir()).glob(f"**/{marker}"))


def test_huge_output_is_truncated_and_reported() -> None:
    limits = SandboxLimits(wall_seconds=2.0, max_output_bytes=1000)
    result = run_python("while True:\n    print('y' * 100)", limits=limits)
    assert result.truncated and result.killed_reason == "output"
    assert len(result.stdout.encode()) == 1000
    assert result.stdout.startswith("y" * 100)


def test_async_variant_does_not_block_the_event_loop() -> None:
    ticks: list[int] = []

    async def ticker() -> None:
        for i in range(5):
            ticks.append(i)
            await asyncio.sleep(0.05)

    async def both() -> str:
        result, _ = await asyncio.gather(
            run_python_async("import time\ntime.sleep(0.4)\nprint('done')", limits=FAST),
            ticker())
        return result.stdout

    assert asyncio.run(both()) == "done\n"
    assert ticks == [0, 1, 2, 3, 4]


def test_concurrent_runs_do_not_interfere() -> None:
    outputs: dict[int, str] = {}

    def one(n: int) -> None:
        outputs[n] = run_python(f"print({n} * {n})", limits=FAST).stdout

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == {n: f"{n * n}\n" for n in range(4)}


def test_invalid_limits_are_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="memory_bytes"):
        SandboxLimits(memory_bytes=10)


def test_a_child_that_leaves_the_process_group_does_not_hang_the_call() -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(1.5)\n"
        "    os._exit(0)\n"
        "print('parent done', flush=True)\n"
    )
    result = run_python(code, limits=SandboxLimits(wall_seconds=2.0, max_forks=1))
    assert "parent done" in result.stdout
    assert result.exit_code == 0
    assert result.duration_s < 1.2  # gave up on the escaped child's pipe after the drain time


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import ctypes", "ctypes.dlopen is blocked"),
        ("import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100))",
         "resource.setrlimit is blocked"),
        ("import os\nos.system('true')", "running other programs is blocked"),
    ],
)
def test_escape_hatches_are_refused(code: str, message: str) -> None:
    result = run_python(code, limits=FAST)
    assert result.exit_code == 1
    assert message in result.stderr


def test_threads_work_while_forks_are_refused() -> None:
    code = (
        "import os, threading\n"
        "seen = []\n"
        "threads = [threading.Thread(target=seen.append, args=(n,)) for n in range(8)]\n"
        "for thread in threads:\n"
        "    thread.start()\n"
        "for thread in threads:\n"
        "    thread.join()\n"
        "print(sorted(seen))\n"
    )
    result = run_python(code, limits=SandboxLimits(wall_seconds=5.0, audit_hook=False))
    assert result.ok, result.stderr
    assert result.stdout == "[0, 1, 2, 3, 4, 5, 6, 7]\n"
