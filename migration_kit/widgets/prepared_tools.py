"""The prepared-data toolbar of the Import by scenario screen: Replace in a column, toggle
Active on selected lines, clear Active until the first error, toggle Processed (with its
warning), clear errors. Each button calls the API and then ``on_change`` (the panel
reloads its grid)."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from .. import api
from ..errors import BadInputError
from ..workspace import Workspace
from .errors import ErrorArea, guarded


def parse_lines(text: str) -> list[int] | None:
    """'3, 5-7' -> [3, 5, 6, 7]; empty -> None (all lines)."""
    text = (text or "").strip()
    if not text:
        return None
    out: list[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out += list(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise BadInputError(f"lines: {part!r} is not a line number or a range like "
                                "5-7") from None
    return out


class PreparedTools(W.VBox):
    """Buttons over the prepared data of one import scenario."""

    def __init__(self, ws: Workspace, scenario: str,
                 on_change: Callable[[], None] | None = None):
        self.ws, self.scenario, self.on_change = ws, scenario, on_change
        self.column = W.Dropdown(options=api.columns(ws, scenario), description="Column",
                                 layout=W.Layout(width="260px")).add_class("mk-replace-column")
        self.find = W.Text(placeholder="find", layout=W.Layout(width="160px")).add_class(
            "mk-find")
        self.replacement = W.Text(placeholder="replace with",
                                  layout=W.Layout(width="160px")).add_class("mk-replacement")
        self.match_case = W.Checkbox(description="Match case", indent=False,
                                     layout=W.Layout(width="110px"))
        self.lines = W.Text(placeholder="lines, e.g. 3, 5-7 (empty: all)",
                            description="Lines").add_class("mk-lines")
        self.replace_button = W.Button(description="Replace").add_class("mk-replace")
        self.active_button = W.Button(description="Toggle Active").add_class("mk-toggle-active")
        self.until_error_button = W.Button(description="Clear Active until error",
                                           layout=W.Layout(width="200px")).add_class(
            "mk-until-error")
        self.processed_button = W.Button(description="Toggle Processed",
                                         button_style="warning").add_class(
            "mk-toggle-processed")
        self.clear_button = W.Button(description="Clear errors").add_class("mk-clear-errors")
        self.message = W.Label("").add_class("mk-tools-status")
        self.errors = ErrorArea()
        for button, handler in ((self.replace_button, self._on_replace),
                                (self.active_button, self._on_active),
                                (self.until_error_button, self._on_until_error),
                                (self.processed_button, self._on_processed),
                                (self.clear_button, self._on_clear)):
            button.on_click(handler)
        super().__init__([
            W.HBox([self.column, self.find, self.replacement, self.match_case,
                    self.replace_button]),
            W.HBox([self.lines, self.active_button, self.until_error_button,
                    self.processed_button, self.clear_button]),
            self.message, self.errors])
        self.add_class("mk-tools")

    def _done(self, text: str) -> None:
        self.message.value = text
        if self.on_change:
            self.on_change()

    @guarded()
    def _on_replace(self, _b) -> None:
        n = api.replace(self.ws, self.scenario, self.column.value, self.find.value,
                        self.replacement.value, match_case=self.match_case.value,
                        lines=parse_lines(self.lines.value))
        self._done(f"{n} value(s) changed")

    @guarded()
    def _on_active(self, _b) -> None:
        n = api.toggle_active(self.ws, self.scenario, parse_lines(self.lines.value))
        self._done(f"Active flipped on {n} record(s)")

    @guarded()
    def _on_until_error(self, _b) -> None:
        n = api.clear_active_until_error(self.ws, self.scenario)
        self._done(f"Active cleared on {n} record(s) before the first error")

    @guarded()
    def _on_processed(self, _b) -> None:
        lines = parse_lines(self.lines.value)
        if not lines:
            raise BadInputError("Toggle Processed: give the lines (it is never done for all)")
        n, warning = api.toggle_processed(self.ws, self.scenario, lines)
        self._done(f"Processed flipped on {n} record(s). {warning}")

    @guarded()
    def _on_clear(self, _b) -> None:
        n = api.clear_errors(self.ws, self.scenario, parse_lines(self.lines.value))
        self._done(f"errors cleared on {n} record(s)")
