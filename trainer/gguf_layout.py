"""How the policy's torch weights map onto the base GGUF file that llama.cpp serves.

The embedded policy is the GGUF itself, loaded in torch through transformers' `gguf_file`
(directly, or through the Hugging Face copy `trainer.embedded.convert_embedded` makes of it).
Exporting weights back to llama.cpp needs the inverse of that load:

- names: Hugging Face module names (`model.layers.3.self_attn.q_proj`) become GGUF tensor
  names (`blk.3.attn_q.weight`) through the `gguf` package's own name table;
- layout: llama.cpp's converter permutes the rows of a llama model's `attn_q`/`attn_k`
  weights (each head's rotary halves become interleaved pairs) and transformers undoes that
  permutation when it loads a GGUF, so torch holds the un-permuted rows. Anything written back
  for those two tensors must be permuted again, as `to_gguf_rows` does.

`BaseGguf.read` takes what the export needs from the file's metadata; `check_base_weights`
proves on real weights that a torch model is this GGUF in this layout.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

PERMUTED_ARCHITECTURES = frozenset({"llama"})
"""Architectures whose attn_q/attn_k rows llama.cpp's converter permutes."""

BASE_TOLERANCE = 1e-5
"""Largest |torch - GGUF| weight difference `check_base_weights` accepts for a quantised or F32
tensor (both sides come from the same dequantisation, so in practice the difference is 0)."""
HALF_PRECISION_BITS = {"F16": 10, "BF16": 7}
"""Mantissa bits of the half-precision tensor types: an F16/BF16 copy of the policy's weights
rounds each by up to 2^-(bits+1) of its magnitude."""


class GgufExportError(ValueError):
    """The policy's weights cannot be written for this base GGUF; the message says why."""


@dataclass(frozen=True)
class BaseGguf:
    """The facts about a base GGUF model that exporting weights for it needs."""

    path: Path
    architecture: str
    block_count: int
    head_count: int
    head_count_kv: int
    shapes: dict[str, tuple[int, ...]]
    """Tensor shapes in numpy (row-major) order: `(rows, columns)` for a matrix."""

    @classmethod
    def read(cls, path: str | Path, reader: Any = None) -> BaseGguf:
        """Read the metadata and tensor shapes of the GGUF at `path` (or from `reader`, an
        `open_gguf(path)` already made: parsing the header takes ~4 s for a 49k-token
        vocabulary, the tensors are memory-mapped)."""
        location = Path(path)
        reader = reader if reader is not None else open_gguf(location)
        architecture = str(_field(reader, location, "general.architecture"))
        head_count = int(_field(reader, location, f"{architecture}.attention.head_count"))
        kv_key = f"{architecture}.attention.head_count_kv"
        has_kv = reader.get_field(kv_key) is not None
        head_count_kv = int(_field(reader, location, kv_key)) if has_kv else head_count
        shapes = {tensor.name: tuple(int(n) for n in reversed(tensor.shape.tolist()))
                  for tensor in reader.tensors}
        return cls(path=location, architecture=architecture,
                   block_count=int(_field(reader, location, f"{architecture}.block_count")),
                   head_count=head_count, head_count_kv=head_count_kv, shapes=shapes)

    def tensor_name(self, module_name: str) -> str:
        """The GGUF tensor name of the weight of the Hugging Face module `module_name`
        (`model.layers.0.self_attn.q_proj` -> `blk.0.attn_q.weight`); `GgufExportError`
        when the module has no tensor in this file."""
        table = _name_table(self.architecture, self.block_count)
        if table is None:
            raise GgufExportError(f"{self.path}: the gguf package does not know the "
                                  f"architecture {self.architecture!r}")
        name = table.get_name(f"{module_name}.weight", try_suffixes=(".weight",))
        if name is None or name not in self.shapes:
            raise GgufExportError(f"{module_name}: no tensor of {self.path.name} corresponds "
                                  "to this module")
        return str(name)

    def to_gguf_rows(self, tensor_name: str, rows: NDArray[np.float32]) -> NDArray[np.float32]:
        """`rows` (a weight, or a LoRA `B`, whose first axis is the output of `tensor_name`)
        reordered from the Hugging Face layout to llama.cpp's."""
        if self.architecture not in PERMUTED_ARCHITECTURES:
            return rows
        if tensor_name.endswith(".attn_q.weight"):
            return permute_rotary_rows(rows, self.head_count)
        if tensor_name.endswith(".attn_k.weight"):
            return permute_rotary_rows(rows, self.head_count_kv)
        return rows


def permute_rotary_rows(rows: NDArray[np.float32], heads: int) -> NDArray[np.float32]:
    """llama.cpp's converter permutation: in each of `heads` heads, output row `h*d + i`
    (first half, `i < d/2`) moves to `h*d + 2i`, and `h*d + d/2 + i` moves to `h*d + 2i + 1`
    (the inverse of transformers' `reverse_permute_weights`)."""
    count = rows.shape[0]
    if count % (2 * heads):
        raise GgufExportError(f"{count} rows do not split into {heads} heads of rotary pairs")
    shaped = rows.reshape(heads, 2, count // heads // 2, *rows.shape[1:])
    return np.ascontiguousarray(shaped.swapaxes(1, 2).reshape(rows.shape))


def open_gguf(path: Path) -> Any:
    """A `gguf.GGUFReader` on `path`; `GgufExportError` when the file cannot be read."""
    from gguf import GGUFReader

    try:
        return GGUFReader(path)
    except (OSError, ValueError) as error:
        raise GgufExportError(f"{path}: cannot read this GGUF file: {error}") from error


def read_tensor(reader: Any, name: str) -> NDArray[np.float32]:
    """The tensor `name` of an open GGUF, dequantised to float32 in numpy order."""
    from gguf.quants import dequantize

    for tensor in reader.tensors:
        if tensor.name == name:
            shape = tuple(int(n) for n in reversed(tensor.shape.tolist()))
            values = dequantize(tensor.data, tensor.tensor_type)
            return np.asarray(values, dtype=np.float32).reshape(shape)
    raise GgufExportError(f"no tensor {name!r} in the GGUF")


def check_base_weights(base: BaseGguf, weights: Iterable[tuple[str, Any]],
                       reader: Any = None) -> float:
    """Compare torch weights `(module name, tensor)` with the GGUF's tensors in llama.cpp's
    layout and return the largest absolute difference; `GgufExportError` when a shape differs
    or the difference exceeds the tensor type's tolerance (`BASE_TOLERANCE`, or the rounding
    of an F16/BF16 copy): the torch model is not this GGUF."""
    reader = reader if reader is not None else open_gguf(base.path)
    worst = 0.0
    for module_name, tensor in weights:
        name = base.tensor_name(module_name)
        ours = base.to_gguf_rows(name, tensor.detach().float().cpu().numpy())
        theirs = read_tensor(reader, name)
        if ours.shape != theirs.shape:
            raise GgufExportError(f"{module_name}: torch shape {ours.shape} but {name} in "
                                  f"{base.path.name} is {theirs.shape}")
        difference = float(np.abs(ours - theirs).max())
        if difference > _tolerance(reader, name, ours):
            raise GgufExportError(f"{module_name}: the policy's weight differs from {name} in "
                                  f"{base.path.name} by {difference:.3g}: the policy was not "
                                  "loaded from this GGUF")
        worst = max(worst, difference)
    return worst


def _tolerance(reader: Any, name: str, weight: NDArray[np.float32]) -> float:
    """How far an exact copy of `weight` stored as tensor `name` can be from it."""
    kind = next(t.tensor_type.name for t in reader.tensors if t.name == name)
    bits = HALF_PRECISION_BITS.get(kind)
    if bits is None:
        return BASE_TOLERANCE
    return max(BASE_TOLERANCE, float(np.abs(weight).max()) * 2.0 ** -(bits + 1))


@functools.cache
def _name_table(architecture: str, block_count: int) -> Any:
    """The gguf package's Hugging Face -> GGUF tensor-name table (slow to build: cached)."""
    import gguf

    architectures = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}
    if architecture not in architectures:
        return None
    return gguf.get_tensor_name_map(architectures[architecture], block_count)


def _field(reader: Any, path: Path, key: str) -> Any:
    field = reader.get_field(key)
    if field is None:
        raise GgufExportError(f"{path}: the GGUF metadata has no {key!r}")
    return field.contents()


@contextmanager
def atomic_gguf(path: str | Path, architecture: str) -> Iterator[Any]:
    """A `gguf.GGUFWriter` for `path` whose file appears only when the block ends without an
    error: it is written to a temporary name beside the target, then renamed; on any error
    the partial file is removed."""
    import gguf

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        writer = gguf.GGUFWriter(staging, architecture)
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
