"""Showing errors inside widgets: an error area that names the record, field and message
from a :class:`MigrationError`'s facts, and a wrapper for callbacks so no error is lost."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ..errors import DocumentError, MigrationError

log = logging.getLogger("migration_kit.widgets")

# Facts shown in this order, with these labels (the rest of the message follows).
FACTS = (("scenario", "scenario"), ("line", "line"), ("record", "record"), ("key", "key"),
         ("field", "field"), ("provider", "provider"))


def describe(exc: BaseException) -> list[tuple[str, str]]:
    """(label, text) pairs for an error: its facts, then its message and any problem list."""
    if not isinstance(exc, MigrationError):
        return [("error", f"{type(exc).__name__}: {exc}")]
    facts = exc.facts
    out: list[tuple[str, str]] = []
    for name, label in FACTS:
        v = facts.get(name)
        if v in (None, "", {}, []):
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{k}={x}" for k, x in v.items())
        out.append((label, str(v)))
    if exc.location:
        out.append(("where", str(exc.location)))
    out.append(("message", exc.message))
    if isinstance(exc, DocumentError):
        out += [("problem", str(e)) for e in exc.errors]
    return out


class ErrorArea(W.HTML):
    """Shows the last error (class ``mk-error``); empty when there is none."""

    def __init__(self, **kw: Any):
        super().__init__(value="", **kw)
        self.add_class("mk-error")
        self.error: BaseException | None = None

    def show(self, exc: BaseException) -> None:
        self.error = exc
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}"
                       f"</th><td style='white-space:pre-wrap'>{html.escape(v)}</td></tr>"
                       for k, v in describe(exc))
        self.value = (f"<div style='color:#a00;border:1px solid #e99;background:#fff4f4;"
                      f"padding:4px'><b>{html.escape(type(exc).__name__)}</b>"
                      f"<table>{rows}</table></div>")

    def clear(self) -> None:
        self.error = None
        self.value = ""


def guarded(area_attr: str = "errors") -> Callable:
    """Decorate a widget method used as a callback: errors go to ``self.<area_attr>``
    (an :class:`ErrorArea`) instead of vanishing in the kernel's log; unexpected ones are
    also logged with their traceback. The area is cleared when the callback starts."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(self, *args: Any, **kw: Any) -> Any:
            area: ErrorArea = getattr(self, area_attr)
            area.clear()
            try:
                return fn(self, *args, **kw)
            except MigrationError as e:
                area.show(e)
                return None
            except Exception as e:
                log.exception("%s failed", fn.__qualname__)
                area.show(e)
                return None

        return run

    return wrap
