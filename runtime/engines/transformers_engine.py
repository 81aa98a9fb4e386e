"""Engine on a Hugging Face transformers model: batched sampling, grammars, and scoring.

`TransformersEngine` runs any causal LM that transformers loads (a model directory, or a GGUF
file, dequantised to float32, such as the embedded SmolLM2) on torch. Concurrent `generate()`
calls are coalesced into left-padded batches (see `batcher.py`, `hf_decode.py`); each request
gets its chat template applied, its own seeded sampler, stop strings, an optional Lark grammar
enforced by an llguidance mask, and the raw logprob of every sampled token.

The CPU trainer owns the weights: it builds the engine from its already-loaded model and
tokenizer (`TransformersEngine(model, tokenizer)`), samples rollouts with `generate`, and
computes the same per-token logprobs with gradients through `score` / `score_batch`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.engines.base import (
    Capabilities,
    ChatRequest,
    Completion,
    EngineError,
    Message,
)
from runtime.engines.batcher import RequestBatcher
from runtime.engines.decode_state import start_sequence
from runtime.engines.grammar_constraint import GrammarConstraint
from runtime.engines.hf_decode import DecodeRow, decode_rows
from runtime.engines.prompt import hf_detokenizer, hf_encoder, hf_end_of_turn_ids

if TYPE_CHECKING:
    import torch

DEFAULT_CONTEXT = 4096


class TransformersEngine:
    """An `Engine` backed by an in-process transformers model (torch, CPU or one GPU)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "transformers",
        max_batch_size: int = 8,
        batch_wait_s: float = 0.01,
    ) -> None:
        """Wrap an already-loaded model and tokenizer; the caller keeps ownership of both.

        The engine reads the model's current weights at every call, so a trainer that updates
        them in place samples from the updated policy without rebuilding the engine.
        """
        self.name = name
        self._model = model
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # one forward pass at a time: generate vs score
        self._grammar: GrammarConstraint | None = None
        self._eos_ids = _eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else min(self._eos_ids)
        self.capabilities = Capabilities(
            batching=True,
            logprobs=True,
            grammar=True,
            continuation=True,
            token_ids=True,
            max_context=int(getattr(model.config, "max_position_embeddings", DEFAULT_CONTEXT)),
        )
        self._encoder = hf_encoder(tokenizer, self.capabilities.max_context)
        self._detokenize = hf_detokenizer(tokenizer)
        self._batcher = RequestBatcher(
            self._run_batch, max_batch_size=max_batch_size, wait_s=batch_wait_s
        )

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        gguf_file: str | None = None,
        dtype: str | None = None,
        **options: Any,
    ) -> TransformersEngine:
        """Load a model directory, or a `.gguf` file (its directory plus `gguf_file`), locally.

        `dtype` names a torch dtype ("float32", "bfloat16"); GGUF files are dequantised to
        float32 by transformers. Nothing is downloaded: a missing path is an `EngineError`.
        """
        location = Path(path)
        if location.is_file() and location.suffix == ".gguf":
            location, gguf_file = location.parent, location.name
        if not location.exists():
            raise EngineError(f"model path {str(path)!r} does not exist")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        load: dict[str, Any] = {"local_files_only": True}
        if gguf_file is not None:
            load["gguf_file"] = gguf_file
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(location), **load)
            if dtype is not None:
                load["dtype"] = getattr(torch, dtype)
            model = AutoModelForCausalLM.from_pretrained(str(location), **load)
        except (OSError, ValueError) as error:
            raise EngineError(f"cannot load a model from {str(path)!r}: {error}") from error
        model.train(False)  # inference mode for dropout and friends
        return cls(model, tokenizer, **options)

    @property
    def model(self) -> Any:
        """The wrapped model (shared with whoever passed it in)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The wrapped tokenizer."""
        return self._tokenizer

    @property
    def batch_sizes(self) -> list[int]:
        """Size of every generation batch run so far (shows how calls were coalesced)."""
        return list(self._batcher.batch_sizes)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Complete every request; concurrent calls share batches (see module docstring)."""
        return await self._batcher.submit_all(requests)

    async def close(self) -> None:
        """Stop the batching worker and drop the engine's references to model and tokenizer."""
        await self._batcher.close()
        self._model = None
        self._grammar = None

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text for `messages`: the tokenizer's chat template, generation turn open
        (a plain `role: content` transcript for tokenizers without one)."""
        return self._encoder.render(messages)

    def encode_prompt(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of `render_prompt(messages)` (the template already holds special tokens)."""
        return list(self._encoder.tokenize(self.render_prompt(messages)))

    def is_end_of_turn(self, token_id: int) -> bool:
        """True for the tokens that end a turn (EOS and the generation config's)."""
        return token_id in self._eos_ids

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """The text of `token_ids` as completions report it (special tokens left out)."""
        return self._detokenize(token_ids)

    def score(
        self,
        prompt_ids: Sequence[int],
        completion_ids: Sequence[int],
        *,
        grad: bool = False,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Log-probability of each completion token given the prompt and the tokens before it.

        With `grad=True` the result is attached to the autograd graph of the current weights
        (for a policy-gradient loss); otherwise it is computed under `torch.no_grad`.
        """
        pairs = [(prompt_ids, completion_ids)]
        return self.score_batch(pairs, grad=grad, temperature=temperature)[0]

    def score_batch(
        self,
        pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
        *,
        grad: bool = False,
        temperature: float = 1.0,
    ) -> list[torch.Tensor]:
        """`score` for many (prompt ids, completion ids) pairs in one right-padded forward pass.

        Returns one 1-D float tensor per pair, of the completion's length. `temperature` divides
        the logits first (1.0 gives the raw distribution, which is what `generate` reports).
        """
        import torch

        model = self._require_model()
        if not pairs:
            return []
        for index, (prompt, _completion) in enumerate(pairs):
            if len(prompt) == 0:
                raise EngineError(f"pair {index}: the prompt must hold at least one token")
        sequences = [list(prompt) + list(completion) for prompt, completion in pairs]
        width = max(len(sequence) for sequence in sequences)
        input_ids = torch.full((len(pairs), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(pairs), width), dtype=torch.long)
        for index, sequence in enumerate(sequences):
            input_ids[index, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
            attention[index, : len(sequence)] = 1
        device = next(model.parameters()).device
        with self._lock, torch.set_grad_enabled(grad):
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention.to(device)
            ).logits
            results = []
            for index, (prompt, completion) in enumerate(pairs):
                start = len(prompt) - 1  # logits at position t predict token t + 1
                rows = logits[index, start : start + len(completion)].float() / temperature
                targets = torch.tensor(list(completion), dtype=torch.long, device=rows.device)
                logprobs = torch.log_softmax(rows, dim=-1).gather(-1, targets[:, None])
                results.append(logprobs.squeeze(-1))
        return results

    def _require_model(self) -> Any:
        if self._model is None:
            raise EngineError(f"engine {self.name!r} is closed")
        return self._model

    def _grammar_constraint(self) -> GrammarConstraint:
        if self._grammar is None:
            self._grammar = GrammarConstraint.for_hf(self._tokenizer)
        return self._grammar

    def _row(self, request: ChatRequest) -> DecodeRow | Completion:
        """A request ready to decode, or its error completion."""
        import torch

        state = start_sequence(request, self._encoder, self._grammar_constraint,
                               self.detokenize, self._eos_ids.__contains__)
        if isinstance(state, Completion):
            return state
        seed = request.sampling.seed
        generator = torch.Generator().manual_seed(secrets.randbits(63) if seed is None else seed)
        return DecodeRow(state, generator)

    def _run_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Blocking: decode one coalesced batch (called on the batcher's worker thread)."""
        model = self._require_model()
        prepared = [self._row(request) for request in requests]
        rows = [row for row in prepared if isinstance(row, DecodeRow)]
        with self._lock:
            was_training = bool(model.training)
            model.eval()
            try:
                decode_rows(model, rows, pad_id=self._pad_id)
            finally:
                model.train(was_training)
        return [row.state.completion() if isinstance(row, DecodeRow) else row
                for row in prepared]


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """Every token id that ends a turn (see `prompt.hf_end_of_turn_ids`)."""
    try:
        return hf_end_of_turn_ids(tokenizer, getattr(model, "generation_config", None))
    except ValueError as error:
        raise EngineError(str(error)) from error
