"""A thin, typed wrapper over llama.cpp's low-level C API (through `llama_cpp` ctypes).

The high-level `llama_cpp.Llama` class decodes one sequence at a time. Batching several
sequences per decode step needs the raw API: one context with `n_seq_max` sequences (each
with its own KV stream), a `llama_batch` that mixes tokens of many sequences, and
`llama_memory_seq_rm` to free a finished sequence's cells. This module owns those pointers
and nothing else: no scheduling, no sampling. It is used from one thread only (the engine's worker).
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from runtime.engines.base import EngineError

# llama.cpp's own default (LLAMA_FLASH_ATTN_TYPE_AUTO) made CPU decoding ~40x slower here.
FLASH_ATTENTION_DISABLED = 0
PIECE_BUFFER_BYTES = 256


@dataclass(frozen=True)
class ContextSettings:
    """How the llama.cpp context is sized: `max_sequences` decode together, each with its own
    KV stream of `sequence_context` cells; `batch_tokens` bounds the tokens of one decode call.

    Per-sequence streams (`kv_unified=false`) rather than one unified cache: with a unified
    cache a sequence's cells land at positions that depend on its neighbours, the attention
    sums round differently, and a fixed seed sampled different tokens alone and in a batch.
    With separate streams the logits of a sequence were bit-identical in batches of 1, 4 and 16.
    """

    sequence_context: int = 2048
    max_sequences: int = 16
    batch_tokens: int = 512
    threads: int = 0  # 0: every core this process may run on
    prefix_cache: bool = True
    """Keep a finished sequence's KV cells for later requests sharing their prefix
    (`prefix_cache.py`); off, every request prefills its whole prompt."""

    def thread_count(self) -> int:
        """Threads for llama.cpp. Default: every core this process may use, since rollouts
        and policy updates alternate and the rollout should have the whole machine (idle
        2-core machine: 2 threads decoded 78 tokens/s for one sequence and 113 for 16, one
        thread 59 and 71). On a machine busy with other work, llama.cpp's spin-waiting
        threads suffer: pass `threads=1` there."""
        return self.threads if self.threads > 0 else available_cores()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass
class DecodeWork:
    """What `llama_decode` has done: tokens fed (prompt tokens not found in the KV cache, and
    sampled tokens), calls, and seconds spent inside it. Dividing a rollout's tokens by its
    wall time, and its seconds by that time, tells prefill work from idle engine time."""

    tokens: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.calls += 1
        self.seconds += seconds

    def copy(self) -> DecodeWork:
        return replace(self)

    def since(self, earlier: DecodeWork) -> DecodeWork:
        """The work done after `earlier` (a copy taken before)."""
        return DecodeWork(self.tokens - earlier.tokens, self.calls - earlier.calls,
                          self.seconds - earlier.seconds)


@dataclass(frozen=True)
class BatchEntry:
    """One token to feed: its sequence, position, and whether its logits are wanted."""

    token: int
    sequence: int
    position: int
    want_logits: bool


class LlamaModel:
    """A loaded GGUF model with one multi-sequence context, vocabulary helpers and decode."""

    def __init__(self, model_path: Path, settings: ContextSettings, verbose: bool = False) -> None:
        import llama_cpp

        # llama-cpp-python routes llama.cpp's logs to this logger; loading prints hundreds of
        # lines at INFO, so keep only errors unless asked.
        logging.getLogger("llama-cpp-python").setLevel(logging.DEBUG if verbose else logging.ERROR)
        self._lib: Any = llama_cpp
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), model_params)
        if not model:
            raise EngineError(f"{model_path}: llama.cpp could not load this GGUF file")
        self._model: Any = model
        self.vocab: Any = llama_cpp.llama_model_get_vocab(model)
        self.vocab_size = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.trained_context = int(llama_cpp.llama_model_n_ctx_train(model))

        params = llama_cpp.llama_context_default_params()
        params.n_ctx = settings.sequence_context * settings.max_sequences
        params.n_batch = settings.batch_tokens
        params.n_ubatch = settings.batch_tokens
        params.n_seq_max = settings.max_sequences
        params.n_threads = settings.thread_count()
        params.n_threads_batch = settings.thread_count()
        params.flash_attn_type = FLASH_ATTENTION_DISABLED
        params.kv_unified = False
        params.no_perf = True
        context = llama_cpp.llama_init_from_model(model, params)
        if not context:
            llama_cpp.llama_model_free(model)
            raise EngineError(f"{model_path}: llama.cpp could not create a context")
        self._context: Any = context
        # Cells of one sequence's KV stream: the longest prompt plus completion it can hold.
        self.context_size = int(llama_cpp.llama_n_ctx(context)) // settings.max_sequences
        self._memory: Any = llama_cpp.llama_get_memory(context)
        self._batch_capacity = settings.batch_tokens
        self._batch: Any = llama_cpp.llama_batch_init(settings.batch_tokens, 0, 1)
        self._piece_buffer = ctypes.create_string_buffer(PIECE_BUFFER_BYTES)
        self._pieces: dict[tuple[int, bool], bytes] = {}
        self.work = DecodeWork()

    # -- vocabulary -------------------------------------------------------------------------

    def chat_template(self) -> str | None:
        """The chat template stored in the GGUF metadata, if any."""
        raw = self._lib.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8") if raw else None

    def special_token_text(self, token: int) -> str:
        """The text of a special token such as BOS/EOS (empty when the model has none)."""
        return "" if token < 0 else self.piece(token, special=True).decode("utf-8", "replace")

    @property
    def bos_token(self) -> int:
        return int(self._lib.llama_vocab_bos(self.vocab))

    @property
    def eos_token(self) -> int:
        return int(self._lib.llama_vocab_eos(self.vocab))

    def adds_bos(self) -> bool:
        return bool(self._lib.llama_vocab_get_add_bos(self.vocab))

    def is_end_of_generation(self, token: int) -> bool:
        """True for EOS, EOT and the other end-of-generation tokens of the vocabulary."""
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: str, add_special: bool, parse_special: bool = True) -> list[int]:
        """Tokenize `text`; `parse_special` turns `<|im_start|>`-like text into control tokens
        (needed for rendered chat templates)."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (self._lib.llama_token * capacity)()
        count = self._lib.llama_tokenize(
            self.vocab, data, len(data), tokens, capacity, add_special, parse_special
        )
        if count < 0:
            raise EngineError(f"tokenizer needed {-count} tokens, more than {capacity}")
        return [int(tokens[i]) for i in range(count)]

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token; control tokens render as nothing unless `special`."""
        key = (token, special)
        cached = self._pieces.get(key)
        if cached is not None:
            return cached
        count = self._lib.llama_token_to_piece(
            self.vocab, token, self._piece_buffer, PIECE_BUFFER_BYTES, 0, special
        )
        if count < 0:
            raise EngineError(f"token {token} needs {-count} bytes to render")
        value = bytes(self._piece_buffer.raw[:count])
        self._pieces[key] = value
        return value

    def detokenize(self, tokens: Sequence[int]) -> str:
        """The text of `tokens` without control tokens, as completions report it."""
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    # -- decoding ---------------------------------------------------------------------------

    @property
    def batch_capacity(self) -> int:
        return self._batch_capacity

    def decode(self, entries: Sequence[BatchEntry]) -> list[NDArray[np.float32]]:
        """Run one decode step over `entries` (tokens of several sequences) and return a copy
        of the raw logits for each entry that asked for them, in order."""
        if not entries or len(entries) > self._batch_capacity:
            raise EngineError(f"a decode batch holds 1..{self._batch_capacity} tokens")
        batch = self._batch
        for index, entry in enumerate(entries):
            batch.token[index] = entry.token
            batch.pos[index] = entry.position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = entry.sequence
            batch.logits[index] = 1 if entry.want_logits else 0
        batch.n_tokens = len(entries)
        began = time.perf_counter()
        status = int(self._lib.llama_decode(self._context, batch))
        self.work.add(len(entries), time.perf_counter() - began)
        if status != 0:
            raise EngineError(f"llama_decode failed with status {status}")
        rows: list[NDArray[np.float32]] = []
        for index, entry in enumerate(entries):
            if entry.want_logits:
                pointer = self._lib.llama_get_logits_ith(self._context, index)
                rows.append(np.ctypeslib.as_array(pointer, shape=(self.vocab_size,)).copy())
        return rows

    def forget_sequence(self, sequence: int) -> None:
        """Free every KV cell of `sequence` so another request can reuse the slot."""
        self._lib.llama_memory_seq_rm(self._memory, sequence, -1, -1)

    def copy_sequence(self, source: int, target: int) -> None:
        """Make `target`'s KV cells a copy of `source`'s. With a stream per sequence llama.cpp
        copies the whole stream (a few MB for a small model) at the next decode, before
        that decode's tokens are placed."""
        self._lib.llama_memory_seq_cp(self._memory, source, target, -1, -1)

    def keep_prefix(self, sequence: int, keep: int) -> bool:
        """Free the KV cells of `sequence` from position `keep` on; False when the memory
        cannot drop part of a sequence (then nothing was kept)."""
        if keep <= 0:
            self.forget_sequence(sequence)
            return True
        if bool(self._lib.llama_memory_seq_rm(self._memory, sequence, keep, -1)):
            return True
        self.forget_sequence(sequence)
        return False

    # -- LoRA adapters ------------------------------------------------------------------------

    def load_lora(self, path: Path) -> Any:
        """Load the GGUF LoRA adapter at `path` for this model (not applied yet); `EngineError`
        when llama.cpp rejects it (wrong architecture, a tensor the model lacks, a bad file)."""
        adapter = self._lib.llama_adapter_lora_init(self._model, str(path).encode())
        if not adapter:
            raise EngineError(f"{path}: llama.cpp could not load this LoRA adapter for "
                              f"{self.describe()} (wrong base model or not a GGUF adapter)")
        return adapter

    def apply_lora(self, adapter: Any | None, scale: float = 1.0) -> None:
        """Make `adapter`, scaled by `scale`, the context's only adapter (none when None).
        The next decode uses it; KV cells computed before keep the old weights' values."""
        lib = self._lib
        if adapter is None:
            status = int(lib.llama_set_adapters_lora(self._context, None, 0, None))
        else:
            adapters = (lib.llama_adapter_lora_p_ctypes * 1)(adapter)
            scales = (ctypes.c_float * 1)(scale)
            status = int(lib.llama_set_adapters_lora(self._context, adapters, 1, scales))
        if status != 0:
            raise EngineError(f"llama_set_adapters_lora failed with status {status}")

    def free_lora(self, adapter: Any) -> None:
        """Free an adapter that is no longer applied (the model frees the rest on close)."""
        if self._model is not None:
            self._lib.llama_adapter_lora_free(adapter)

    def describe(self) -> str:
        """A short description of the loaded model, for messages."""
        buffer = ctypes.create_string_buffer(PIECE_BUFFER_BYTES)
        self._lib.llama_model_desc(self._model, buffer, PIECE_BUFFER_BYTES)
        return buffer.value.decode("utf-8", "replace")

    def forget_all(self) -> None:
        """Free the whole KV cache (after a failed decode left it in an unknown state)."""
        self._lib.llama_memory_clear(self._memory, True)

    def close(self) -> None:
        """Free the batch, context and model (idempotent)."""
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None
        if self._context is not None:
            self._lib.llama_free(self._context)
            self._context = None
        if self._model is not None:
            self._lib.llama_model_free(self._model)
            self._model = None
