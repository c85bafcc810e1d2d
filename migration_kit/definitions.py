"""Strict definitions: the YAML files of a workspace read into typed models.

Scenario, provider, window and ``users.yaml`` files are checked by a pydantic model before
anything uses them. A model refuses keys it does not know (``options: unknown option
`brake_on_error`; did you mean `break_on_error`?``) and values of the wrong type, named by
their path in the file (``options.batch_size: 'abc' is not an integer``). Values are not
converted (``'500'`` is not an integer, ``'false'`` is not true or false), so what the
model accepts is exactly what the code then reads.

:func:`problems` turns a model's validation errors into these readable lines; the loaders
raise them as :class:`~migration_kit.errors.DefinitionError` (or
:class:`~migration_kit.errors.ScenarioError` for scenarios), so the CLI exits 2.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from .errors import DefinitionError

# libyaml's loader where PyYAML was built with it: about 7x faster, and every command loads
# the workspace's definitions
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def load_yaml_text(text: str) -> Any:
    """``yaml.safe_load(text)``, by libyaml where it is there. A text libyaml refuses is
    read again by PyYAML's own loader, whose error shows the line with a caret under the
    place (and which takes the rare text only it accepts)."""
    if _FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)

__all__ = ["Strict", "check", "choice", "load_yaml_text", "problems", "suggest"]


class Strict(BaseModel):
    """Base of every definition model: unknown keys refused, no type conversion."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())


# A list index after one of these keys is shown as "mapping line 2", "restriction 1", ...
ITEMS = {"mapping": "mapping line", "restrictions": "restriction",
         "target_restrictions": "target restriction", "rules": "rule", "parts": "part",
         "objects": "object", "fields": "field", "keys": "key", "actions": "action",
         "roles": "role", "samples": "sample", "values": "value",
         "null_values": "null value", "detail_paths": "detail path"}

_NOT_A = {
    "int_type": "is not an integer", "int_parsing": "is not an integer",
    "int_from_float": "is not an integer", "bool_type": "is not true or false",
    "bool_parsing": "is not true or false", "string_type": "is not text",
    "float_type": "is not a number", "float_parsing": "is not a number",
    "list_type": "is not a list", "tuple_type": "is not a list",
    "dict_type": "is not a mapping (key: value, ...)",
    "model_type": "is not a mapping (key: value, ...)",
    "model_attributes_type": "is not a mapping (key: value, ...)",
    "date_type": "is not a date", "none_required": "must be empty",
}


def suggest(word: Any, known: Iterable[Any]) -> str:
    """``"; did you mean `break_on_error`?"`` for a near miss, else ``""``."""
    names = [str(k) for k in known]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def choice(values: Iterable[str], what: str = "") -> Callable[[Any], Any]:
    """A validator: the value is one of ``values`` (text), with a suggestion when it is not.

    Used as ``Annotated[str, AfterValidator(choice(...))]`` where a ``Literal`` would do, so
    the message can say "did you mean"."""
    allowed = tuple(values)

    def check_choice(v: Any) -> Any:
        if v not in allowed:
            raise ValueError(f"{v!r} is not one of {', '.join(allowed)}{suggest(v, allowed)}")
        return v

    return check_choice


def rule(test: Callable[[Any], bool], message: str) -> AfterValidator:
    """A validator: ``test(value)`` must hold, else ``{value!r} {message}``."""

    def check_rule(v: Any) -> Any:
        if not test(v):
            raise ValueError(f"{v!r} {message}")
        return v

    return AfterValidator(check_rule)


def problems(model: type[BaseModel], data: Any, prefix: tuple = ()) -> list[str]:
    """Every problem of ``data`` against ``model``, one readable line each (empty: fine).

    ``prefix`` is the path of ``data`` in its file, e.g. ``("params",)``."""
    try:
        model.model_validate(data)
    except ValidationError as e:
        out: list[str] = []
        for err in e.errors(include_url=False):
            line = _describe(model, err, prefix)
            if line not in out:
                out.append(line)
        return out
    return []


def check(model: type[BaseModel], data: Any, what: str, *, prefix: tuple = (),
          error: type[DefinitionError] = DefinitionError, **facts: Any) -> None:
    """Raise ``error`` listing every problem of ``data`` (``what``: e.g. ``users.yaml``)."""
    found = problems(model, data, prefix)
    if found:
        raise error(f"{what} has {len(found)} problem(s)", problems=found, **facts)


# -- readable errors ----------------------------------------------------------------------
def _describe(model: type[BaseModel], err: Mapping[str, Any], prefix: tuple) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = loc[:-1]
        key = loc[-1]
        known = _keys_at(model, parent)
        noun = "option" if parent and parent[-1] == "options" else "key"
        hint = suggest(key, known) or (f" (known: {', '.join(known)})" if known else "")
        return _join(prefix + parent, f"unknown {noun} `{key}`{hint}")
    if kind == "missing":
        return _join(prefix + loc[:-1], f"`{loc[-1]}` is required")
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", err["msg"]))
    elif kind in _NOT_A:
        text = f"{value!r} {_NOT_A[kind]}"
    elif kind == "literal_error":
        expected = [a.strip().strip("'") for a in
                    str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        text = f"{value!r} is not one of {', '.join(expected)}"
        if isinstance(value, str):
            text += suggest(value, expected)
    elif kind == "greater_than":
        text = f"{value!r} must be more than {ctx.get('gt')}"
    elif kind == "greater_than_equal":
        text = f"{value!r} must be {ctx.get('ge')} or more"
    elif kind == "less_than_equal":
        text = f"{value!r} must be {ctx.get('le')} or less"
    elif kind == "too_short":
        text = f"{value!r} must have at least {ctx.get('min_length')} item(s)"
    elif kind == "string_too_short":
        text = f"{value!r} must be at least {ctx.get('min_length')} character(s) long"
    else:
        text = f"{err['msg']} (got {value!r})"
    return _join(prefix + loc, text)


def _join(loc: tuple, text: str) -> str:
    where = _path(loc)
    return f"{where}: {text}" if where else text


def _path(loc: tuple) -> str:
    """``("mapping", 1, "source")`` -> ``mapping line 2, source``;
    ``("options", "batch_size")`` -> ``options.batch_size``."""
    out = ""
    after_item = False
    for i, part in enumerate(loc):
        if isinstance(part, int) and not isinstance(part, bool) and i > 0 \
                and isinstance(loc[i - 1], str):
            prev = loc[i - 1]
            label = f"{ITEMS.get(prev, prev + ' item')} {part + 1}"
            out = out[: len(out) - len(prev)] + label
            after_item = True
            continue
        if part == "[key]":
            out += " (the key)"
            continue
        text = str(part)
        if out:
            out += (", " if after_item else ".") + text
        else:
            out = text
        after_item = False
    return out


def _keys_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model allows at ``loc`` (for suggestions)."""
    t: Any = model
    for part in loc:
        t = _unwrap(t, part)
        if t is None:
            return []
    t = _unwrap(t, None, final=True)
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [f.alias or name for name, f in t.model_fields.items()]
    return []


def _unwrap(t: Any, part: Any, final: bool = False) -> Any:
    """The type one step into ``t`` (``part``: a field, index or key), through Optional,
    Annotated and unions; with ``final`` just the model type of ``t``."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            candidates = [a for a in typing.get_args(t) if a is not type(None)]
            models = [a for a in candidates
                      if (isinstance(a, type) and issubclass(a, BaseModel))
                      or typing.get_origin(a) in (list, dict)]
            if not models:
                return None
            t = models[0]
            continue
        break
    if final:
        return t
    if isinstance(t, type) and issubclass(t, BaseModel):
        for name, f in t.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(t)
    if origin is list and isinstance(part, int):
        return typing.get_args(t)[0]
    if origin is dict:
        return typing.get_args(t)[1]
    return None
