"""Record how every CSV and Excel file of tests/data and templates/samples reads today.

Run from the repository root: ``python tests/data/regression/record.py``. It writes
``accepted.json``: per file, the parameters ``detect`` stored, the schema's column names and
types, and every row with its line, or the error when the file is refused. It was run on the
code before the messy-file rules (issue 17) and committed first, so
``tests/providers/test_regression.py`` can check that every file accepted then still reads
the same way, as a new provider and as an existing one (its stored parameters).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
FOLDERS = ("tests/data/providers", "tests/data/bad", "templates/samples")
EXTENSIONS = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")


def encode(v: Any) -> list[str] | None:
    """A value as [type, text]: exact for str, int, float (repr), bool, date, datetime."""
    if v is None:
        return None
    if isinstance(v, float):
        return ["float", repr(v)]
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return [type(v).__name__, v.isoformat()]
    return [type(v).__name__, str(v)]


def files() -> list[Path]:
    out = []
    for folder in FOLDERS:
        out += sorted(p for p in (ROOT / folder).iterdir() if p.suffix.lower() in EXTENSIONS)
    return out


def record(path: Path) -> dict[str, Any]:
    from migration_kit.errors import MigrationError
    from migration_kit.providers import get_provider_type, type_for_file

    ptype = get_provider_type(type_for_file(path))
    try:
        params = ptype.detect(path, {})
        schema = ptype.read_schema(path, params)
        rows, lines = [], []
        for b in ptype.read_batches(path, params, schema):
            rows += [[encode(v) for v in r] for r in b.rows]
            lines += list(b.lines)
    except MigrationError as e:
        return {"type": ptype.name, "error": f"{type(e).__name__}: {e}"}
    return {"type": ptype.name, "params": params,
            "columns": schema.columns(), "types": [f.type for f in schema.fields()],
            "lines": lines, "rows": rows}


def main() -> None:
    out = {str(p.relative_to(ROOT)): record(p) for p in files()}
    (HERE / "accepted.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    ok = sum("error" not in v for v in out.values())
    print(f"{len(out)} files, {ok} accepted, written to {HERE / 'accepted.json'}")


if __name__ == "__main__":
    main()
