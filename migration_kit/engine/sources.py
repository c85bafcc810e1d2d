"""Where prepare reads its rows: the provider's file version, one object or two.

One object: the provider's rows as they are. Two objects (a scenario with ``objects:``,
summary fields from one object and detail fields from another, linked by key fields): both
are staged in the workspace database and joined there, so memory stays bounded; each
joined row is one detail row with its summary row's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..catalog.versions import FileVersion, Provider
from ..providers.base import BATCH_ROWS, RowBatch
from ..scenarios.model import Scenario
from ..workspace import Workspace


@dataclass
class SingleObject:
    prov: Provider
    fv: FileVersion
    batch_size: ClassVar[int] = BATCH_ROWS  # rows per provider batch (tests make it small)

    @property
    def columns(self) -> list[str]:
        return self.prov.schema.columns()

    def batches(self, conn) -> Iterator[RowBatch]:
        return self.prov.ptype.read_batches(self.fv.path, self.prov.params, self.prov.schema,
                                            batch_size=self.batch_size)


def row_source(ws: Workspace, sc: Scenario, prov: Provider, fv: FileVersion):
    if sc.objects is not None:
        from .join import TwoObjects

        return TwoObjects(ws, sc, prov, fv)
    return SingleObject(prov, fv)
