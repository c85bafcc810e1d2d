"""Benchmarks against the plain pandas way, in one command.

    python -m bench.run [--scale S] [--cases a,b] [--keep]

Every case times our path and its baseline in the same run, each in its own child process
(``python -m bench.case``) so that each peak RSS is its own. Prints a Markdown table and
writes ``bench/out/results.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
CASES = ("csv_read", "excel_read", "import_sqlite", "import_sqlite_floor",
         "import_sqlite_shuffled", "import_sqlite_2w", "memory", "import_pg", "import_pg_2w",
         "export")


class StepFailed(RuntimeError):
    pass


class Bench:
    def __init__(self, scale: float, out: Path, keep: bool, batch_size: int | None):
        self.scale = scale
        self.out = out
        self.keep = keep
        self.batch_size = batch_size
        self.work = out / "work"
        self.results: dict[str, dict] = {}
        self.steps: dict[str, dict] = {}
        self._pg = None
        self.case = ""

    # -- helpers -----------------------------------------------------------------------
    def data(self, scale: float | None = None) -> Path:
        s = self.scale if scale is None else scale
        return data.generate(s, self.out)["sales_invoices"].parent

    def pg_url(self, prefix: str) -> str:
        if self._pg is None:
            sys.path.insert(0, str(ROOT))
            from tests.pgserver import PostgresServer, find_pg_bin

            if find_pg_bin() is None:
                raise StepFailed("PostgreSQL server binaries not found "
                                 "(apt-get install postgresql)")
            server = PostgresServer(fsync=False)
            server.start()
            self._pg = server
        return self._pg.create_database(f"{prefix}_{uuid.uuid4().hex[:8]}")

    def close(self) -> None:
        if self._pg is not None:
            self._pg.stop()
            self._pg = None
        if not self.keep and self.work.exists():
            shutil.rmtree(self.work, ignore_errors=True)

    def step(self, name: str, work: Path, data_dir: Path, *, label: str | None = None,
             db_url: str | None = None, rows: int = 0, workers: int = 0) -> dict:
        work.mkdir(parents=True, exist_ok=True)
        label = f"{self.case}/{label or name}"
        result = work / f"{label.replace('/', '.')}.json"
        result.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.case", name, "--data", str(data_dir),
               "--work", str(work), "--result", str(result)]
        if db_url:
            cmd += ["--db-url", db_url]
        if rows:
            cmd += ["--rows", str(rows)]
        if self.batch_size and name == "import_ours":
            cmd += ["--batch-size", str(self.batch_size)]
        if workers:
            cmd += ["--workers", str(workers)]
        env = {**os.environ, "MIGRATION_KIT_PROGRESS": "0",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode or not result.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
            raise StepFailed(f"{name} failed (exit {proc.returncode}):\n" + "\n".join(tail))
        out = json.loads(result.read_text(encoding="utf-8"))
        out["wall_s"] = round(wall, 2)
        self.steps[label] = out
        print(f"  {label.split('/', 1)[1]}: {_fmt_step(out)}", flush=True)
        return out

    # -- the cases ---------------------------------------------------------------------
    def csv_read(self) -> dict:
        d = self.data()
        w = self.work / "csv_read"
        ours = self.step("csv_ours", w, d)
        base = self.step("csv_pandas", w, d)
        return _case("csv_read", "CSV read (our CSV provider)", ours, base, "pandas read_csv",
                     goal="ours peak RSS < 300 MB", met=ours["peak_rss_mb"] < 300)

    def excel_read(self) -> dict:
        d = self.out
        rows = data.sizes(self.scale)["excel_rows"]
        w = self.work / "excel_read"
        self.step("setup_excel", w, d, rows=rows)
        ours = self.step("excel_ours", w, d, rows=rows)
        base = self.step("excel_openpyxl", w, d, rows=rows)
        ratio = ours["seconds"] / max(base["seconds"], 1e-9)
        return _case("excel_read", "Excel read (our Excel provider)", ours, base,
                     "openpyxl read-only",
                     goal="ours peak RSS <= 200 MB and >= 8x faster (ratio <= 0.125)",
                     met=ours["peak_rss_mb"] <= 200 and ratio <= 0.125)

    def shuffled_data(self) -> Path:
        """The same files with the invoice lines in a random (seeded) order: every
        invoice's lines scattered over the file, gathered by key."""
        d = self.data()
        out = d.with_name(d.name + "-shuffled")
        if not (out / "DONE").exists():  # in a child process: see data.shuffled
            subprocess.run([sys.executable, "-m", "bench.data", "shuffle", str(d), str(out)],
                           cwd=ROOT, check=True)
        return out

    def import_sqlite_shuffled(self) -> dict:
        """import_sqlite on the shuffled file, against pandas on the same file."""
        return self._import("import_sqlite_shuffled", pg=False, data_dir=self.shuffled_data())

    def _import(self, case: str, pg: bool, data_dir: Path | None = None) -> dict:
        d = data_dir or self.data()
        w = self.work / case
        url = self.pg_url("bench_ours") if pg else None
        self.step("setup_import", w, d, db_url=url)
        ours = self.step("import_ours", w, d, db_url=url, workers=1)  # one process
        base_url = self.pg_url("bench_pandas") if pg else None
        base = self.step("import_pandas", w, d, db_url=base_url)
        ratio = ours["seconds"] / max(base["seconds"], 1e-9)
        return _case(case, "prepare + import of sales invoices" + (" (PostgreSQL)" if pg
                                                                   else " (SQLite)"),
                     ours, base, "pandas read_csv + to_sql" + (" (default method)" if pg
                                                               else ""),
                     goal="ratio <= 1.0", met=ratio <= 1.0)

    def import_sqlite(self) -> dict:
        return self._import("import_sqlite", pg=False)

    def import_sqlite_floor(self) -> dict:
        """Our SQLite import (from import_sqlite in this run when it ran) against the floor:
        one sqlite3.executemany of the file's lines as text."""
        d = self.data()
        w = self.work / "import_sqlite_floor"
        ours = self.steps.get("import_sqlite/import_ours")
        if ours is None:
            self.step("setup_import", w, d)
            ours = self.step("import_ours", w, d, workers=1)
        base = self.step("import_floor", w, d)
        ratio = ours["seconds"] / max(base["seconds"], 1e-9)
        return _case("import_sqlite_floor", "prepare + import of sales invoices (SQLite)",
                     ours, base, "floor: csv + sqlite3.executemany of the lines",
                     goal="stretch: ratio <= 3.0", met=ratio <= 3.0)

    def import_pg(self) -> dict:
        return self._import("import_pg", pg=True)

    def import_pg_2w(self) -> dict:
        """import_pg with 2 parallel workers, against the same pandas baseline (taken from
        import_pg in this run when it ran)."""
        return self._import_2w("import_pg_2w", pg=True)

    def import_sqlite_2w(self) -> dict:
        """import_sqlite with 2 parallel workers (SQLite: one saves while the other maps and
        checks), against the same pandas baseline (from import_sqlite when it ran)."""
        return self._import_2w("import_sqlite_2w", pg=False)

    def _import_2w(self, case: str, pg: bool) -> dict:
        d = self.data()
        w = self.work / case
        one_case = "import_pg" if pg else "import_sqlite"
        url = self.pg_url("bench_ours2") if pg else None
        self.step("setup_import", w, d, db_url=url)
        ours = self.step("import_ours", w, d, db_url=url, workers=2)
        base = self.steps.get(f"{one_case}/import_pandas") or self.step(
            "import_pandas", w, d, db_url=self.pg_url("bench_pandas") if pg else None)
        one = self.steps.get(f"{one_case}/import_ours")
        ratio = ours["seconds"] / max(base["seconds"], 1e-9)
        r = _case(case, f"prepare + import, {'PostgreSQL' if pg else 'SQLite'}, 2 workers",
                  ours, base, "pandas read_csv + to_sql" + (" (default method)" if pg else ""),
                  goal="faster than 1 worker" + (f" ({one['seconds']:.2f} s)" if one else ""),
                  met=ratio <= 1.0 if one is None else ours["seconds"] < one["seconds"])
        r["worker_peak_mb"] = ours.get("worker_peak_rss_mb")
        if one is not None:
            r["vs_1_worker"] = round(ours["seconds"] / max(one["seconds"], 1e-9), 2)
        return r

    def memory(self) -> dict:
        small_scale = self.scale / 10
        ds = self.data(small_scale)
        w = self.work / "memory"
        self.step("setup_import", w, ds)
        small = self.step("import_ours", w, ds, label="import_ours_small", workers=1)
        big = self.steps.get("import_sqlite/import_ours")
        if big is None:
            d = self.data()
            self.step("setup_import", w, d)
            big = self.step("import_ours", w, d, workers=1)
        # the file reader runs beside prepare (a big file): the peak of both together
        total = [s.get("tree_peak_rss_mb", s["peak_rss_mb"]) for s in (big, small)]
        growth = total[0] / max(total[1], 1e-9)
        r = _case("memory", "peak RSS of prepare + import (with prepare's file reader), full "
                  "vs 1/10 of the lines", big, small, "ours at 1/10 of the lines",
                  goal="full <= 200 MB and < 1.5x the 1/10 run (ratio here: peak RSS)",
                  met=total[0] <= 200 and growth < 1.5)
        r["time_ratio"], r["ratio"] = r["ratio"], round(growth, 2)
        r["ours_peak_mb"], r["base_peak_mb"] = total
        r["reader_peak_mb"] = big.get("reader_peak_rss_mb")
        return r

    def export(self) -> dict:
        d = self.data()
        w = self.work / "export"
        self.step("setup_export", w, d)
        ours = self.step("export_ours", w, d)
        base = self.step("export_pandas", w, d)
        ratio = ours["seconds"] / max(base["seconds"], 1e-9)
        return _case("export", "export of invoices, flattened to CSV (SQLite)", ours, base,
                     "pandas read_sql x2 + merge + to_csv", goal="ratio <= 1.0",
                     met=ratio <= 1.0)

    def run(self, cases: list[str]) -> dict:
        started = dt.datetime.now()
        print(f"bench: scale {self.scale:g}, cases {', '.join(cases)}", flush=True)
        t0 = time.perf_counter()
        print("generating data (cached in bench/out/)...", flush=True)
        self.data()
        try:
            for c in cases:
                print(f"[{c}]", flush=True)
                self.case = c
                try:
                    self.results[c] = getattr(self, c)()
                except StepFailed as e:
                    print(f"  FAILED: {e}", flush=True)
                    self.results[c] = {"case": c, "error": str(e), "met": False}
        finally:
            self.close()
        return {"scale": self.scale, "started": started.isoformat(timespec="seconds"),
                "total_s": round(time.perf_counter() - t0, 1),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "platform": platform.platform()},
                "sizes": data.sizes(self.scale), "cases": [self.results[c] for c in cases],
                "steps": self.steps}


def _fmt_step(s: dict) -> str:
    extra = ", ".join(f"{k} {v:.2f}" for k, v in s.items() if k.endswith("_s")
                      and k != "wall_s" and isinstance(v, float))
    text = (f"{s.get('rows', '-')} rows, {s.get('seconds', 0):.2f} s, "
            f"peak RSS {s['peak_rss_mb']:.0f} MB")
    if s.get("worker_peak_rss_mb"):
        text += f" (worker {s['worker_peak_rss_mb']:.0f} MB)"
    if s.get("reader_peak_rss_mb"):
        text += (f" (file reader {s['reader_peak_rss_mb']:.0f} MB; both together "
                 f"{s['tree_peak_rss_mb']:.0f} MB)")
    return text + (f" ({extra})" if extra else "")


def _case(case: str, what: str, ours: dict, base: dict, base_name: str, *, goal: str,
          met: bool) -> dict:
    ratio = ours["seconds"] / max(base["seconds"], 1e-9)
    return {"case": case, "what": what, "baseline": base_name, "rows": ours["rows"],
            "baseline_rows": base["rows"],
            "ours_s": round(ours["seconds"], 3), "base_s": round(base["seconds"], 3),
            "ours_rows_s": round(ours["rows"] / max(ours["seconds"], 1e-9)),
            "base_rows_s": round(base["rows"] / max(base["seconds"], 1e-9)),
            "ratio": round(ratio, 2), "ours_peak_mb": ours["peak_rss_mb"],
            "base_peak_mb": base["peak_rss_mb"], "goal": goal, "met": bool(met)}


def markdown(report: dict) -> str:
    lines = [f"Scale {report['scale']:g} ({report['sizes']['lines']:,} invoice lines, "
             f"{report['sizes']['invoices']:,} invoices); total {report['total_s']:.0f} s; "
             f"Python {report['machine']['python']}, {report['machine']['cpus']} CPUs.", "",
             "| case | baseline | rows | ours s | ours rows/s | baseline s | baseline rows/s "
             "| ratio (ours/baseline) | ours peak RSS MB | baseline peak RSS MB | goal | met |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in report["cases"]:
        if "error" in r:
            lines.append(f"| {r['case']} | error: {r['error'].splitlines()[0]} "
                         "| | | | | | | | | | no |")
            continue
        rows = (f"{r['rows']:,} vs {r['baseline_rows']:,}" if r["rows"] != r["baseline_rows"]
                else f"{r['rows']:,}")
        lines.append(
            f"| {r['case']} | {r['baseline']} | {rows} | {r['ours_s']:.2f} | "
            f"{r['ours_rows_s']:,} | {r['base_s']:.2f} | {r['base_rows_s']:,} | "
            f"{r['ratio']:.2f}x | {r['ours_peak_mb']:.0f} | {r['base_peak_mb']:.0f} | "
            f"{r['goal']} | {'yes' if r['met'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="1 = 100,000 invoices / 1,000,000 lines (default)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated, from: {', '.join(CASES)}")
    ap.add_argument("--keep", action="store_true",
                    help="keep the workspaces and databases under bench/out/work")
    ap.add_argument("--out", type=Path, default=OUT, help=argparse.SUPPRESS)
    ap.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if a.scale <= 0:
        ap.error("--scale must be positive")
    a.out.mkdir(parents=True, exist_ok=True)
    report = Bench(a.scale, a.out, a.keep, a.batch_size).run(cases)
    (a.out / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print()
    print(markdown(report))
    print(f"\nresults: {a.out / 'results.json'}")
    return 1 if any("error" in r for r in report["cases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
