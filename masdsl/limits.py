"""The configurable limits a spec is checked against.

Every loop and every fan-out of a spec is bounded, and these limits say how far: the checker
reports a MAS4xx diagnostic for any bound, size or sampling setting outside them. The
defaults are the ones documented in `docs/language.md`; a caller (the CLI, the trainer) may
pass tighter or looser ones, e.g. `Limits(max_fanout=8)`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Limits(BaseModel):
    """Bounds on the size and cost of a spec. Ranges are inclusive unless named `*_exclusive`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_agents: int = Field(32, ge=1, description="agents declared in one spec (MAS404)")
    max_nodes: int = Field(
        256, ge=1, description="flow statements plus calls, counted recursively (MAS405)")
    max_loop: int = Field(
        16, ge=1, description="loop `max` and debate/reflect `rounds` (MAS402)")
    max_steps: int = Field(64, ge=1, description="graph `max_steps` (MAS402)")
    max_fanout: int = Field(
        16, ge=1, description="ensemble samples × agents, debaters per debate (MAS403)")
    max_bytes: int = Field(1_000_000, ge=1, description="size of the spec in bytes (MAS407)")
    # Capped so that a checker walking a parsed tree can never exhaust Python's stack.
    max_depth: int = Field(
        32, ge=1, le=200, description="nesting of blocks and calls (MAS406)")
    # Sampling ranges of agent settings (MAS401).
    min_temperature: float = 0.0
    max_temperature: float = 2.0
    top_p_exclusive_min: float = Field(0.0, description="top_p must be greater than this")
    max_top_p: float = 1.0
    min_max_tokens: int = 1
    max_max_tokens: int = 8192
    min_retries: int = 0
    max_retries: int = 5
    min_tool_turns: int = 0
    max_tool_turns: int = 16

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> Limits:
        pairs = [("temperature", self.min_temperature, self.max_temperature),
                 ("top_p", self.top_p_exclusive_min, self.max_top_p),
                 ("max_tokens", self.min_max_tokens, self.max_max_tokens),
                 ("retries", self.min_retries, self.max_retries),
                 ("max_tool_turns", self.min_tool_turns, self.max_tool_turns)]
        for name, low, high in pairs:
            if low > high:
                raise ValueError(f"the {name} range is empty: {low} > {high}")
        return self
