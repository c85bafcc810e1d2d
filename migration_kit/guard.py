"""Who may touch what: the rights behind every function of :mod:`migration_kit.api`.

Windows carry the rights (``none`` < ``view`` < ``edit``, per user in ``users.yaml``).
Everything else takes its right from the windows it serves:

- a scenario: import scenarios need ``edit`` on their window to be seen or run, export
  scenarios ``view``; changing one (save, prepared-data edits) needs ``edit``;
- a provider holds a window's data: it is visible to a user who may run a scenario that
  uses it, and changed (new versions, schema, types) by one with ``edit`` on such a window;
  a provider no scenario uses yet needs the right on some window;
- value maps serve every scenario: reading needs ``view`` on some window, changing ``edit``.
"""

from __future__ import annotations

from .errors import PermissionDeniedError
from .scenarios.model import Scenario, list_scenarios
from .workspace import Workspace


def run_right(sc: Scenario) -> str:
    return "edit" if sc.kind == "import" else "view"


def any_window(ws: Workspace, right: str, what: str) -> None:
    if not any(ws.rights.can(w.id, right) for w in ws.windows):
        raise PermissionDeniedError(
            f"user {ws.user!r} has no {right!r} right on any window, which {what} needs",
            user=ws.user, window=None, right=right)


def provider(ws: Workspace, name: str, right: str = "view") -> None:
    """``view``: may run a scenario that uses it; ``edit``: has edit on one's window."""
    users = [sc for sc in list_scenarios(ws) if sc.provider == name]
    if not users:
        any_window(ws, right, f"provider {name!r}")
        return
    need = (lambda sc: run_right(sc)) if right == "view" else (lambda sc: "edit")
    if not any(ws.rights.can(sc.window, need(sc)) for sc in users):
        sc = users[0]
        raise PermissionDeniedError(
            f"user {ws.user!r} may not {'see' if right == 'view' else 'change'} provider "
            f"{name!r}: it serves window {sc.window} (scenario {sc.name!r}), where "
            f"{need(sc)!r} is needed", user=ws.user, window=sc.window, right=need(sc))


def scenario(ws: Workspace, sc: Scenario, right: str | None = None) -> None:
    ws.require(sc.window, right or run_right(sc))
