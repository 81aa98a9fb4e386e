"""Diagnostics are data: a stable code, a severity, a span, a message and a help line.

Codes are grouped by family (the hundreds digit) and never reused for another meaning:

- MAS0xx syntax and input (bytes that are not a spec)
- MAS1xx names (undefined, duplicate, unknown, unused)
- MAS2xx types (every edge of the flow is typed)
- MAS3xx flow and graph structure (outputs, routers, graphs)
- MAS4xx bounds and limits (loops, fan-outs, sizes, sampling ranges)
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from masdsl.spans import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# code -> (default severity, short title). The language reference documents each code with
# an example, and tests pin every code to at least one fixture.
CODES: dict[str, tuple[Severity, str]] = {
    # syntax and input
    "MAS001": (Severity.ERROR, "invalid encoding"),
    "MAS002": (Severity.ERROR, "unexpected character"),
    "MAS003": (Severity.ERROR, "unexpected token"),
    "MAS004": (Severity.ERROR, "unexpected end of input"),
    "MAS005": (Severity.ERROR, "number out of range"),
    "MAS006": (Severity.ERROR, "unsupported syntax"),
    # names
    "MAS101": (Severity.ERROR, "undefined name"),
    "MAS102": (Severity.ERROR, "duplicate definition"),
    "MAS103": (Severity.ERROR, "unknown tool"),
    "MAS104": (Severity.ERROR, "not callable"),
    "MAS105": (Severity.WARNING, "unused agent"),
    "MAS106": (Severity.ERROR, "unknown enum member"),
    "MAS107": (Severity.ERROR, "used before assignment"),
    "MAS108": (Severity.ERROR, "unknown parameter"),
    "MAS109": (Severity.ERROR, "missing parameter"),
    "MAS110": (Severity.ERROR, "duplicate field"),
    "MAS111": (Severity.ERROR, "missing role"),
    "MAS112": (Severity.ERROR, "unknown model"),
    "MAS113": (Severity.WARNING, "unused input"),
    "MAS114": (Severity.ERROR, "reserved name"),
    "MAS115": (Severity.ERROR, "duplicate argument"),
    "MAS116": (Severity.ERROR, "unknown condition function"),
    "MAS117": (Severity.ERROR, "unknown field"),
    # declared tools
    "MAS120": (Severity.ERROR, "duplicate tool"),
    "MAS121": (Severity.ERROR, "tool shadows a builtin"),
    "MAS122": (Severity.ERROR, "duplicate tool parameter"),
    "MAS123": (Severity.ERROR, "tool name too long"),
    "MAS124": (Severity.WARNING, "unused tool"),
    "MAS125": (Severity.WARNING, "tool without description"),
    "MAS126": (Severity.ERROR, "duplicate tool field"),
    "MAS127": (Severity.WARNING, "tool listed twice"),
    "MAS130": (Severity.ERROR, "unbounded map"),
    "MAS131": (Severity.ERROR, "list longer than the map's max"),
    "MAS132": (Severity.ERROR, "input label taken"),
    "MAS133": (Severity.ERROR, "inputs outside the sampled flow"),
    "MAS140": (Severity.ERROR, "no rounds to read"),
    "MAS141": (Severity.ERROR, "unknown agent template"),
    "MAS142": (Severity.ERROR, "missing template argument"),
    "MAS143": (Severity.ERROR, "unknown template parameter"),
    "MAS144": (Severity.ERROR, "invalid template placeholder"),
    "MAS145": (Severity.ERROR, "template used as an agent"),
    # types
    "MAS201": (Severity.ERROR, "type mismatch"),
    "MAS202": (Severity.ERROR, "invalid condition"),
    "MAS203": (Severity.ERROR, "expected an agent"),
    "MAS204": (Severity.ERROR, "agent used as a value"),
    "MAS205": (Severity.ERROR, "unknown type"),
    "MAS206": (Severity.ERROR, "not a list"),
    "MAS207": (Severity.ERROR, "invalid parameter value"),
    "MAS208": (Severity.ERROR, "not a record"),
    "MAS230": (Severity.ERROR, "index out of range"),
    "MAS231": (Severity.ERROR, "invalid index"),
    "MAS232": (Severity.ERROR, "no LLM call to sample"),
    # flow and graph structure
    "MAS301": (Severity.ERROR, "output never bound"),
    "MAS302": (Severity.ERROR, "output bound on some paths only"),
    "MAS303": (Severity.ERROR, "router does not cover the enum"),
    "MAS304": (Severity.ERROR, "duplicate case"),
    "MAS305": (Severity.WARNING, "unreachable graph node"),
    "MAS306": (Severity.ERROR, "invalid graph"),
    "MAS307": (Severity.ERROR, "missing flow"),
    "MAS308": (Severity.ERROR, "input rebound"),
    "MAS309": (Severity.WARNING, "dead node"),
    "MAS310": (Severity.ERROR, "interface mismatch"),
    # bounds and limits
    "MAS401": (Severity.ERROR, "value out of range"),
    "MAS402": (Severity.ERROR, "loop bound out of range"),
    "MAS403": (Severity.ERROR, "fan-out out of range"),
    "MAS404": (Severity.ERROR, "too many agents"),
    "MAS405": (Severity.ERROR, "too many nodes"),
    "MAS406": (Severity.ERROR, "nesting too deep"),
    "MAS407": (Severity.ERROR, "spec too large"),
    "MAS408": (Severity.ERROR, "too many LLM calls"),
    "MAS409": (Severity.ERROR, "too many generated tokens"),
    "MAS410": (Severity.ERROR, "unrolled IR too large"),
}


class Diagnostic(BaseModel):
    """One finding about a spec. `path` is the file it came from ('<string>' when none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    span: Span
    message: str
    help: str | None = None
    path: str = "<string>"

    @property
    def title(self) -> str:
        return CODES[self.code][1]

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def diagnostic(code: str, span: Span, message: str, help: str | None = None,
               path: str = "<string>", severity: Severity | None = None) -> Diagnostic:
    """Build a diagnostic for a registered code; the severity defaults to the code's own."""
    default_severity, _ = CODES[code]
    return Diagnostic(code=code, severity=severity or default_severity, span=span,
                      message=message, help=help, path=path)


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in source order, then by code: the order every tool prints them in."""
    return sorted(diagnostics, key=lambda d: (d.path, d.span.start, d.span.end, d.code))


class MasError(Exception):
    """The project's own error for a spec that cannot be processed: it carries diagnostics,
    never a raw Lark exception."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        summary = (f"{first.path}:{first.span.line}:{first.span.column}: {first.code} "
                   f"{first.message}") if first else "invalid spec"
        super().__init__(summary)
