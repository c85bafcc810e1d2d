"""Users, roles and access rights by window: ``none`` < ``view`` < ``edit``.

Kept in the workspace's ``users.yaml``; a user's right on a window is the highest any of
their roles grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator

from ..definitions import Strict, check, choice, load_yaml_text
from ..errors import BadInputError, DefinitionError, NotFoundError, PermissionDeniedError

LEVELS = {"none": 0, "view": 1, "edit": 2}
Level = Annotated[str, AfterValidator(choice(LEVELS))]


# -- the YAML form, checked strictly (see migration_kit/definitions.py) ------------------
class RoleModel(Strict):
    default: Level = "none"
    windows: dict[str, Level] | None = None
    description: str | None = None


class UserModel(Strict):
    roles: list[str] | None = None
    name: str | None = None
    description: str | None = None


class UsersModel(Strict):
    roles: dict[str, RoleModel | None] | None = None
    users: dict[str, UserModel | None] | None = None

DEFAULT_USERS: dict[str, Any] = {
    "roles": {
        "administrator": {"default": "edit"},
    },
    "users": {
        "admin": {"roles": ["administrator"]},
    },
}


@dataclass(frozen=True)
class Rights:
    """A user's roles, each a default level and per-window levels that override it."""

    user: str
    roles: tuple[tuple[str, dict[str, str]], ...]

    def level(self, window_id: str) -> str:
        best = "none"
        for default, windows in self.roles:
            lvl = windows.get(window_id, default)
            if LEVELS[lvl] > LEVELS[best]:
                best = lvl
        return best

    def can(self, window_id: str, right: str) -> bool:
        return LEVELS[self.level(window_id)] >= LEVELS[right]

    def require(self, window_id: str, right: str) -> None:
        if not self.can(window_id, right):
            raise PermissionDeniedError(
                f"user {self.user!r} has {self.level(window_id)!r} access to window "
                f"{window_id}; {right!r} is needed", user=self.user, window=window_id,
                right=right)


def _check_level(v: str, where: str) -> str:
    if v not in LEVELS:
        raise BadInputError(f"users.yaml {where}: {v!r} is not one of none, view, edit")
    return v


def load_rights(path: Path, user: str) -> Rights:
    try:
        data = (load_yaml_text(path.read_text(encoding="utf-8")) if path.exists()
                else DEFAULT_USERS)
    except yaml.YAMLError as e:
        raise BadInputError(f"{path.name}: not valid YAML: {e}") from None
    check(UsersModel, data if data is not None else {}, path.name, error=DefinitionError,
          file=path.name)
    data = data or {}
    users = data.get("users") or {}
    roles = data.get("roles") or {}
    if user not in users:
        raise NotFoundError(f"no user {user!r} in {path.name}; known: {', '.join(users)}")
    granted = []
    for rname in (users[user] or {}).get("roles") or []:
        if rname not in roles:
            raise BadInputError(f"users.yaml: user {user!r} has unknown role {rname!r}")
        role = roles[rname] or {}
        default = _check_level(role.get("default", "none"), f"role {rname} default")
        windows = {w: _check_level(lvl, f"role {rname} window {w}")
                   for w, lvl in (role.get("windows") or {}).items()}
        granted.append((default, windows))
    return Rights(user=user, roles=tuple(granted))
