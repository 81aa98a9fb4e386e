"""Fast construction of Pydantic models from data already known to be valid.

The parser builds a few hundred AST nodes per spec whose shape the grammar guarantees;
validating each one again cost more than the parse itself. `trusted(Model)` returns a
constructor that does what `Model.model_construct(**values)` does for models without
aliases, default factories or private attributes (all AST and type models): it fills
defaults in field order and sets the same instance slots, without the per-call alias
bookkeeping. `tests/test_parser_ast.py` pins the result to equal validated models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

_MISSING: Any = object()
_set_slot = object.__setattr__


def trusted(cls: type[ModelT]) -> Callable[..., ModelT]:
    """A constructor for `cls` that trusts its keyword arguments (see the module docs)."""
    fields = tuple((name, _MISSING if field.is_required() else field.default)
                   for name, field in cls.model_fields.items())
    simple = all(field.alias is None and field.validation_alias is None
                 and field.default_factory is None for field in cls.model_fields.values())
    if not simple or cls.__pydantic_post_init__ or cls.__pydantic_root_model__ \
            or cls.model_config.get("extra") == "allow":
        return cls.model_construct
    new = cls.__new__

    def construct(**values: Any) -> ModelT:
        instance = new(cls)
        state = {}
        for name, default in fields:
            if name in values:
                state[name] = values[name]
            elif default is not _MISSING:
                state[name] = default
        _set_slot(instance, "__dict__", state)
        _set_slot(instance, "__pydantic_fields_set__", set(values))
        _set_slot(instance, "__pydantic_extra__", None)
        _set_slot(instance, "__pydantic_private__", None)
        return instance

    return construct
