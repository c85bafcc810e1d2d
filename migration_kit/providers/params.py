"""The parameters of each provider type, and the YAML form of a provider, checked strictly.

A parameter a type does not know is refused with a suggestion (``-p delimeter=;``: did you
mean `delimiter`?), a value of the wrong type with its name (``params.skip_rows: 'abc' is
not an integer``). ``None`` (``-p header_row=null``) means "the default" everywhere; ``auto``
means "detect it" where detection exists. See migration_kit/definitions.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ..definitions import Strict, choice, problems, rule
from ..errors import DefinitionError, Location
from ..values import TYPES
from .registry import get_provider_type, provider_types

_TERMINATORS = ("auto", "\r\n", "\n", "\r")


def _one_char(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 1


def _one_char_or_auto(v: Any) -> bool:
    return v == "auto" or _one_char(v)


def _auto_or_int(v: Any) -> bool:
    return v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)


def _one_char_or_auto_or_none(v: Any) -> bool:
    return v is None or _one_char_or_auto(v)


def _header_rows(v: Any) -> bool:
    return v == "auto" or (type(v) is int and v in (1, 2))


def _auto_or_bool(v: Any) -> bool:
    return v == "auto" or isinstance(v, bool)


def _sheet(v: Any) -> bool:
    return isinstance(v, str | int) and not isinstance(v, bool)


def _paths(v: Any) -> bool:
    """``auto``, a path, comma-separated paths, or a list of paths."""
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


Positive = Annotated[int, Field(gt=0)]


HeaderRow = Annotated[Any, rule(_auto_or_int, "is not a row number (1 or more) or auto")]
HeaderRows = Annotated[Any, rule(_header_rows, "is not 1, 2 or auto")]
Comment = Annotated[Any, rule(lambda v: v is None or isinstance(v, str),
                              "is not a comment prefix (text, e.g. '#')")]


class CsvParams(Strict):
    encoding: str | None = None
    delimiter: Annotated[str, rule(_one_char_or_auto, "is not one character (or auto)")] \
        | None = None
    quotechar: Annotated[str, rule(_one_char_or_auto, "is not one character (or auto)")] \
        | None = None
    escapechar: Annotated[Any, rule(_one_char_or_auto_or_none,
                                    "is not one character (or auto, or null)")] = None
    header_row: HeaderRow = None
    header_rows: HeaderRows = None
    skip_rows: Annotated[int, Field(ge=0)] | None = None
    comment: Comment = None
    keep_empty_columns: bool | None = None
    rename: dict[str, str] | None = None
    null_values: list[str] | None = None
    decimal_separator: Annotated[str, rule(_one_char, "is not one character")] | None = None
    date_format: str | None = None
    tolerate_ragged: bool | None = None
    line_terminator: Annotated[str, rule(lambda v: v in _TERMINATORS,
                                         r"is not auto, \r\n, \n or \r")] | None = None
    max_bytes: Positive | None = None


class ExcelParams(Strict):
    sheet: Annotated[Any, rule(_sheet, "is not a sheet name")] = None
    header_row: HeaderRow = None
    header_rows: HeaderRows = None
    comment: Comment = None
    keep_empty_columns: bool | None = None
    rename: dict[str, str] | None = None
    date1904: Annotated[Any, rule(_auto_or_bool, "is not true, false or auto")] = None
    max_bytes: Positive | None = None
    sheets: Annotated[str, AfterValidator(choice(("all",)))] | None = None


class XmlParams(Strict):
    record_path: str | None = None
    detail_paths: Annotated[Any, rule(_paths, "is not a path, a list of paths or auto")] = None
    namespaces: dict[str, str] | None = None
    encoding: str | None = None
    date_format: str | None = None
    decimal_separator: Annotated[str, rule(_one_char, "is not one character")] | None = None
    max_depth: Positive | None = None
    max_bytes: Positive | None = None


def param_problems(type_name: str, params: Any, prefix: tuple = ("params",)) -> list[str]:
    # each type names its model (``params_model``); an unknown type is its own problem
    model = get_provider_type(type_name).params_model if type_name in provider_types() else None
    return problems(model, params if params is not None else {}, prefix) if model else []


def check_params(type_name: str, params: Any, file: str | None = None) -> None:
    """Refuse unknown parameters and values of the wrong type (``DefinitionError``)."""
    found = param_problems(type_name, params)
    if found:
        raise DefinitionError(f"the {type_name} parameters have {len(found)} problem(s)",
                              problems=found, location=Location(file=file) if file else None)


# -- providers/NAME.yaml --------------------------------------------------------------------
class FieldModel(Strict):
    name: str
    type: Annotated[str, AfterValidator(choice(TYPES))] = "string"
    max_length: int | None = None
    samples: list[Any] | None = None
    path: str | None = None
    type_overridden: bool = False


class ObjectModel(Strict):
    name: str
    path: str | None = None
    parent: str | None = None
    position: int | None = None
    fields: list[FieldModel] | None = None
    layout: dict[str, Any] | None = None


class SchemaModel(Strict):
    objects: list[ObjectModel] | None = None
    layout: dict[str, Any] | None = None  # written by the toolkit: how the file was settled


class PartModel(Strict):
    object: str
    params: dict[str, Any] | None = None
    file: str | None = None
    original_name: str | None = None


class ProviderModel(Strict):
    name: str
    type: Annotated[str, AfterValidator(lambda v: choice(provider_types())(v))]
    simplified: bool = False
    description: str | None = None
    original_name: str | None = None
    params: dict[str, Any] | None = None
    parts: list[PartModel] | None = None
    schema_: SchemaModel = Field(alias="schema")


def provider_problems(d: Any) -> list[str]:
    """Every problem of a provider's YAML form, its parameters included."""
    found = problems(ProviderModel, d)
    if found:
        return found
    found = param_problems(d["type"], d.get("params"))
    for i, part in enumerate(d.get("parts") or []):
        found += param_problems(d["type"], part.get("params"), ("parts", i, "params"))
    return found
