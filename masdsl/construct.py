"""Fast construction of Pydantic models from data already known to be valid.

The parser builds a few hundred AST nodes per spec whose shape the grammar guarantees;
validating each one again cost more than the parse itself. `trusted(Model)` returns a
constructor that does what `Model.model_construct(**values)` does for models without
aliases, default factories, extras or private attributes (all AST and type models): the
same `__dict__` (fields in declaration order, defaults filled in), the same fields-set and
the same instance slots, without the per-call alias bookkeeping.

Like `dataclasses` does for `__init__`, the constructor is generated once per class as
Python source with one keyword parameter per field, so a call costs about as much as
building one dict. `tests/test_parser_ast.py` pins the result to equal validated models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


class _Missing:
    """The marker of a keyword argument that was not passed."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def trusted(cls: type[ModelT]) -> Callable[..., ModelT]:
    """A constructor for `cls` that trusts its keyword arguments (see the module docs)."""
    fields = cls.model_fields
    simple = all(field.alias is None and field.validation_alias is None
                 and field.default_factory is None for field in fields.values())
    if not simple or cls.__pydantic_post_init__ or cls.__pydantic_root_model__ \
            or cls.model_config.get("extra") == "allow" or not fields \
            or not all(name.isidentifier() for name in fields):
        return cls.model_construct
    required = [name for name, field in fields.items() if field.is_required()]
    optional = [name for name, field in fields.items() if not field.is_required()]
    namespace: dict[str, Any] = {"new": cls.__new__, "cls": cls, "set_slot": object.__setattr__,
                                 "MISSING": _MISSING}
    lines = []
    for index, name in enumerate(optional):
        namespace[f"default_{index}"] = fields[name].default
        lines.append(f"    if {name} is MISSING:\n        {name} = default_{index}\n"
                     f"    else:\n        given.add({name!r})")
    parameters = ", ".join([*required, *(f"{name}=MISSING" for name in optional)])
    state = ", ".join(f"{name!r}: {name}" for name in fields)
    source = (f"def construct(*, {parameters}):\n"
              f"    given = {set(required) or 'set()'!r}\n" if required else
              f"def construct(*, {parameters}):\n    given = set()\n")
    source += "\n".join(lines) + "\n" if lines else ""
    source += ("    instance = new(cls)\n"
               f"    set_slot(instance, '__dict__', {{{state}}})\n"
               "    set_slot(instance, '__pydantic_fields_set__', given)\n"
               "    set_slot(instance, '__pydantic_extra__', None)\n"
               "    set_slot(instance, '__pydantic_private__', None)\n"
               "    return instance\n")
    exec(source, namespace)
    constructor: Callable[..., ModelT] = namespace["construct"]
    return constructor
