"""Exceptions that carry their facts.

One base, :class:`MigrationError`; each subclass names what went wrong and where, as
attributes, so the CLI, the notebooks' widgets and the tests all read the same facts.
``exit_code`` is what the CLI exits with: 1 a run stopped on a record, 2 bad input or
usage (nothing changed), 3 permission denied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where a value came from: file, version, sheet, line/row, column (all optional)."""

    file: str | None = None
    version: int | None = None
    sheet: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file + (f" (version {self.version})" if self.version else ""))
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


class MigrationError(Exception):
    """Base of every error the toolkit raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, location: Location | None = None, **facts: Any):
        self.message = message
        self.location = location
        self.facts = facts
        super().__init__(str(self))

    def __reduce__(self):
        # Subclasses take keyword-only facts; rebuild from the instance's attributes so
        # errors survive copy, deepcopy and pickling (e.g. between processes).
        return (_rebuild, (type(self), self.__dict__.copy()))

    def __str__(self) -> str:
        where = str(self.location) if self.location else ""
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.location:
            out["location"] = {k: v for k, v in asdict(self.location).items() if v is not None}
        out.update({k: v for k, v in self.facts.items() if _plain(v)})
        return out


def _rebuild(cls: type, state: dict[str, Any]) -> MigrationError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, str(err))
    return err


def _plain(v: Any) -> bool:
    return isinstance(v, str | int | float | bool | list | dict | type(None))


class BadInputError(MigrationError):
    """A file, parameter or definition that cannot be used. Nothing was changed."""


class SourceError(BadInputError):
    """A source file cannot be read: encoding, ragged rows, hostile XML, size, ..."""


class SchemaMismatchError(BadInputError):
    """A new file version whose schema differs from the provider's. ``diff`` lists changes."""

    def __init__(self, message: str, *, diff: list[str], **kw: Any):
        super().__init__(message + "\n" + "\n".join("  " + d for d in diff), diff=diff, **kw)
        self.diff = diff


class FormulaSyntaxError(BadInputError):
    """A formula that does not parse; ``position`` is 0-based into ``formula``."""

    def __init__(self, message: str, *, formula: str, position: int, **kw: Any):
        pointer = f"\n  {formula}\n  {' ' * position}^"
        super().__init__(f"{message} at position {position + 1}{pointer}",
                         formula=formula, position=position, **kw)
        self.formula = formula
        self.position = position


class FormulaRuntimeError(MigrationError):
    """A formula that failed on a value (division by zero, bad date): a record's error."""


class MappingError(MigrationError):
    """A value that could not be mapped to its target field: the field and why. The engine
    keeps it as the record's error; it stops a run only as a :class:`RecordError`."""

    def __init__(self, target: str, message: str, **kw: Any):
        self.target = target  # first: the base's __init__ reads str(self)
        super().__init__(message, target=target, **kw)

    def __str__(self) -> str:
        return f"{self.target}: {self.message}"


class DefinitionError(BadInputError):
    """A definition (scenario, provider, window, users.yaml) that cannot be used: unknown
    keys, values of the wrong type. ``problems`` lists every one, each with its path."""

    def __init__(self, message: str, *, problems: list[str], **kw: Any):
        super().__init__(message + "\n" + "\n".join("  " + p for p in problems),
                         problems=problems, **kw)
        self.problems = problems


class ScenarioError(DefinitionError):
    """A scenario that does not fit its window or provider. ``problems`` lists every one."""


class NotFoundError(BadInputError):
    """A named provider, scenario, window, user or record that does not exist."""


class PermissionDeniedError(MigrationError):
    """The acting user lacks the right on a window."""

    exit_code = 3


class LockedError(MigrationError):
    """Another run holds the lock on this scenario."""

    exit_code = 2


@dataclass(frozen=True)
class FieldError:
    """One problem with one value of a document: the ERP's typed error record."""

    window: str
    object: str
    field: str | None
    message: str
    line: int | None = None  # detail line index (1-based) or None for the summary
    value: Any = None

    def __str__(self) -> str:
        where = self.object + (f" line {self.line}" if self.line else "")
        if self.field:
            where += f".{self.field}"
        # The value is added unless the message already quotes it.
        val = (f" (value {self.value!r})"
               if self.value not in (None, "") and repr(self.value) not in self.message
               and str(self.value) not in self.message else "")
        return f"{where}: {self.message}{val}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()}


class DocumentError(MigrationError):
    """The ERP refused a document; ``errors`` holds every problem found, not just the first."""

    exit_code = 1

    def __init__(self, window: str, errors: list[FieldError], **kw: Any):
        self.window = window
        self.errors = errors
        msg = "; ".join(str(e) for e in errors)
        super().__init__(f"{window}: {msg}", **kw)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["errors"] = [e.to_dict() for e in self.errors]
        return out


class RecordError(MigrationError):
    """A run stopped on a record: its line, key values, field and message."""

    exit_code = 1

    def __init__(self, message: str, *, scenario: str, line: int, record: int,
                 key: dict[str, Any] | None = None, field_name: str | None = None, **kw: Any):
        self.scenario = scenario
        self.line = line
        self.record = record
        self.key = key or {}
        self.field_name = field_name
        keys = ", ".join(f"{k}={v}" for k, v in self.key.items())
        text = f"scenario {scenario!r} stopped on line {line} (record {record}"
        text += f"; {keys})" if keys else ")"
        if field_name:
            text += f", field {field_name}"
            # "Document.CustomerID: Customer ... does not exist" is said once, not twice
            message = message.removeprefix(f"{field_name}: ")
        super().__init__(f"{text}: {message}", scenario=scenario, line=line, record=record,
                         key=self.key, field=field_name, **kw)


__all__ = [
    "BadInputError", "DefinitionError", "DocumentError", "FieldError", "FormulaRuntimeError",
    "FormulaSyntaxError", "Location", "LockedError", "MappingError", "MigrationError", "NotFoundError",
    "PermissionDeniedError", "RecordError", "ScenarioError", "SchemaMismatchError",
    "SourceError",
]
