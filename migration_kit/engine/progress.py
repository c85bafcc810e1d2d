"""Progress bars that work in notebooks and terminals (tqdm.auto), or none at all."""

from __future__ import annotations

import os
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass


def progress_bar(enabled: bool = True, **kw: Any):
    if not enabled or os.environ.get("MIGRATION_KIT_PROGRESS") == "0":
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(mininterval=0.5, **kw)
