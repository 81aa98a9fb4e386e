"""Coalesce concurrent `generate()` calls into batches run one at a time on a worker thread.

Many tasks await `submit(request)`; a single worker task takes the first waiting request,
waits up to `wait_s` for more (at most `max_batch_size`), and runs the blocking `run_batch`
function in a thread so the event loop stays free. One batch at a time: a local model on one
device gains nothing from two concurrent forward passes, and it keeps memory bounded.

The worker lives on the event loop that first used it; a later call from another loop (for
example successive `asyncio.run` calls from a synchronous trainer) starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runtime.engines.base import ChatRequest, Completion, EngineError

BatchFunction = Callable[[list[ChatRequest]], Sequence[Completion]]


@dataclass
class _Pending:
    request: ChatRequest
    future: asyncio.Future[Completion]


class RequestBatcher:
    """Queue + worker that groups concurrent requests into batches for `run_batch`."""

    def __init__(self, run_batch: BatchFunction, *, max_batch_size: int, wait_s: float) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self._run_batch = run_batch
        self._max_batch_size = max_batch_size
        self._wait_s = wait_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.batch_sizes: list[int] = []
        """Size of every batch run so far, in order (for tests and metrics)."""

    async def submit_all(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Queue every request and wait for all their completions, in order."""
        if self._closed:
            raise EngineError("the engine is closed")
        queue = self._ensure_worker()
        loop = asyncio.get_running_loop()
        pending = [_Pending(request, loop.create_future()) for request in requests]
        for item in pending:
            queue.put_nowait(item)
        return list(await asyncio.gather(*(item.future for item in pending)))

    async def close(self) -> None:
        """Stop the worker; requests still waiting fail with `EngineError`."""
        self._closed = True
        if self._worker is not None and self._loop is asyncio.get_running_loop():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._queue is not None:
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if not item.future.done():
                    item.future.set_exception(EngineError("the engine was closed"))
        self._worker = None

    def _ensure_worker(self) -> asyncio.Queue[_Pending]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._queue is None or self._worker is None:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._work(self._queue))
        return self._queue

    async def _work(self, queue: asyncio.Queue[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self._wait_s
            while len(batch) < self._max_batch_size:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            live = [item for item in batch if not item.future.cancelled()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                results = await asyncio.to_thread(
                    self._run_batch, [item.request for item in live]
                )
            except Exception as error:  # the model failed: every request of the batch fails
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(
                            EngineError(f"batch of {len(live)} failed: {error!r}")
                        )
                continue
            for item, result in zip(live, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
