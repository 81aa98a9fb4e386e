"""The calculator in its own process, where a timeout can fire.

Big-integer arithmetic runs in C and holds the GIL, so a calculation that runs away in the
runtime's own process freezes its event loop and every concurrent execution with it; no
`asyncio` timeout can fire. `CalculatorProcess` keeps one long-lived worker
(`python -I -S -B calculator.py`, standard library only) and talks to it over pipes, one JSON
line per expression. A call that does not answer within `timeout_s` kills the worker (the next
call starts a fresh one) and comes back as a typed failure, `error: ... took longer than ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

WORKER = Path(__file__).with_name("calculator.py")
DEFAULT_TIMEOUT_S = 2.0
MAX_REPLY_BYTES = 1 << 20


class CalculatorProcess:
    """One worker process, used by one call at a time (calls are short; a lock orders them)."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(WORKER)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        return self._process

    def calculate(self, expression: str) -> str:
        """The calculator's reply for `expression`; never raises, never waits past the timeout
        (plus the worker's start-up on the first call)."""
        with self._lock:
            try:
                process = self._worker()
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(json.dumps(expression).encode() + b"\n")
                process.stdin.flush()
                reply = self._read_line(process)
            except (OSError, ValueError) as error:
                self._stop()
                return f"error: the calculator failed: {error}"
            if reply is None:
                self._stop()
                return f"error: the calculation took longer than {self.timeout_s:g} s"
            try:
                text = json.loads(reply)
            except ValueError:
                self._stop()
                return "error: the calculator gave an unreadable reply"
            return text if isinstance(text, str) else "error: the calculator gave no text"

    def _read_line(self, process: subprocess.Popen[bytes]) -> bytes | None:
        assert process.stdout is not None
        deadline = time.monotonic() + self.timeout_s
        stream = process.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([stream], [], [], left)
            if ready:
                line = stream.readline(MAX_REPLY_BYTES)
                if not line:
                    raise ValueError("the worker exited")
                return line

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
            self._process.wait()
            self._process = None

    async def calculate_async(self, expression: str) -> str:
        """`calculate` in a worker thread: the event loop keeps running while it waits."""
        return await asyncio.to_thread(self.calculate, expression)

    def close(self) -> None:
        """Stop the worker (it also exits by itself when this process goes away)."""
        with self._lock:
            self._stop()
