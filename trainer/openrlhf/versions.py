"""The GPU stack the OpenRLHF backend is pinned to, and a check run before any GPU work.

The pins follow OpenRLHF 0.11.2's own (`deepspeed==0.19.6`, `flash-attn==2.8.3`,
`ray[default]==2.55.0`, `transformers==5.15.0`, extra `vllm==0.29.0`); the accepted ranges
allow patch releases. `pip install masdsl[gpu]` installs exactly these pins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Pin:
    """One distribution: the version `masdsl[gpu]` installs and the range the backend accepts
    (`minimum <= version < below`)."""

    name: str
    pinned: str
    minimum: str
    below: str

    def accepts(self, version: str) -> bool:
        try:
            found = Version(version)
        except InvalidVersion:
            return False
        return Version(self.minimum) <= found < Version(self.below)


GPU_PINS: tuple[Pin, ...] = (
    Pin("openrlhf", "0.11.2", "0.11.0", "0.12"),
    Pin("vllm", "0.29.0", "0.29.0", "0.30"),
    Pin("ray", "2.55.0", "2.55.0", "2.56"),
    Pin("deepspeed", "0.19.6", "0.19.6", "0.20"),
    Pin("transformers", "5.15.0", "5.15.0", "5.16"),
    Pin("flash-attn", "2.8.3", "2.8.3", "2.9"),
)
"""What `masdsl[gpu]` pins (the lead copies these into pyproject's `gpu` extra)."""


def installed_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version_problems(pins: tuple[Pin, ...] = GPU_PINS,
                     lookup: Callable[[str], str | None] = installed_version) -> list[str]:
    """One message per pinned distribution that is missing or outside its range, each saying
    what to run. Empty when the stack is usable."""
    problems = []
    for pin in pins:
        found = lookup(pin.name)
        fix = f"pip install '{pin.name}=={pin.pinned}' (or pip install 'masdsl[gpu]')"
        if found is None:
            problems.append(f"{pin.name} is not installed; {fix}")
        elif not pin.accepts(found):
            problems.append(f"{pin.name} {found} is outside the supported range "
                            f">={pin.minimum},<{pin.below}; {fix}")
    return problems


def pin_requirements(pins: tuple[Pin, ...] = GPU_PINS) -> list[str]:
    """The `gpu` extra as requirement strings (`ray[default]` keeps its dashboard extra,
    which `ray job submit` needs)."""
    names: Mapping[str, str] = {"ray": "ray[default]"}
    return [f"{names.get(pin.name, pin.name)}=={pin.pinned}" for pin in pins]
