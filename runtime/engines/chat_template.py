"""Render chat messages into a prompt string with the model's own chat template.

GGUF files carry the Jinja chat template of the original Hugging Face tokenizer
(`tokenizer.chat_template`). It is rendered in a sandboxed Jinja environment configured like
Transformers' (`trim_blocks`, `lstrip_blocks`), so the prompt matches what the model was
trained on. Models without a template fall back to ChatML, which SmolLM2 also uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from runtime.engines.base import Message

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatTemplateError(ValueError):
    """The chat template could not be rendered for these messages."""


@dataclass(frozen=True)
class ChatTemplate:
    """A compiled chat template plus the special-token strings it may reference."""

    source: str
    bos_token: str = ""
    eos_token: str = ""

    @cached_property
    def _compiled(self) -> Any:
        return _compile(self.source)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """Render `messages`, ending with the assistant header when asked (the default)."""
        try:
            return str(
                self._compiled.render(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    add_generation_prompt=add_generation_prompt,
                    bos_token=self.bos_token,
                    eos_token=self.eos_token,
                )
            )
        except Exception as error:  # jinja raises many types, incl. TemplateError
            raise ChatTemplateError(f"chat template failed: {error}") from error


def _compile(source: str) -> Any:
    """Compile a template in a sandbox (templates come from model files, not from us)."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
    )
    environment.globals["raise_exception"] = raise_exception
    return environment.from_string(source)
