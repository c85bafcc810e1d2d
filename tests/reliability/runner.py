"""Run the real CLI in a child process, with an optional test hook that SIGKILLs or pauses it.

    python -m tests.reliability.runner -w WORKSPACE import NAME        (env MK_TEST_HOOK=...)

The hooks live here, in the test suite; the engine has no test-only code paths. They wrap
what the engine calls anyway (SQLAlchemy engine events, the progress bar, the provider's
writer) and send a real SIGKILL to this process, the same signal an outside ``kill -9``
sends. ``MK_TEST_HOOK`` is ``ACTION:POINT:N[:DELAY]``:

- ``kill:stmt:N``     before the Nth SQL statement of the run (counted from the run's first
                      history entry, so inside prepare/import/export transactions; for
                      ``worker``, from its first batch)
- ``kill:commit:N``   at the Nth COMMIT of the run: with DELAY (seconds) a timer fires while
                      the commit is under way or just after it; without, just before it
- ``kill:progress:N`` at the Nth progress update (import: between batches, after a commit;
                      prepare: inside its transaction)
- ``kill:rows:N``     after N rows were handed to a provider's writer (a half-written file)
- ``kill:bulk:N``     inside a bulk write (prepared lines, ERP documents and lines: SQLite's
                      ``executemany``, PostgreSQL's ``COPY``): SQLite at the Nth progress
                      callback of the database engine (every 50 VM steps) during the
                      write, PostgreSQL at the Nth row sent to ``COPY``
- ``kill:time:S``     S seconds after the CLI starts
- ``pause:progress:N`` at the Nth progress update print ``MK-PAUSED`` and wait, holding
                      whatever the run holds, until killed or until the file named by
                      ``MK_TEST_RESUME`` exists (then go on)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wait_for_resume() -> None:
    """Sleep until the file named by ``MK_TEST_RESUME`` exists (or 10 minutes pass)."""
    resume = os.environ.get("MK_TEST_RESUME")
    end = time.monotonic() + 600
    while time.monotonic() < end:
        if resume and os.path.exists(resume):
            return
        time.sleep(0.05)
    _die()


class _State:
    started = False
    stmts = 0
    commits = 0
    progress = 0
    in_bulk = False
    bulk = 0


def install(hook: str) -> None:
    from sqlalchemy import event

    import migration_kit.db as db
    import migration_kit.engine.export as export_mod
    import migration_kit.engine.history as history
    import migration_kit.engine.import_ as import_mod
    import migration_kit.engine.prepare as prepare_mod
    import migration_kit.engine.workers as workers_mod
    from migration_kit.providers.registry import get_provider_type

    action, point, n, *rest = hook.split(":")
    limit = float(n) if point == "time" else int(n)
    delay = float(rest[0]) if rest else None
    st = _State()

    if point == "time":
        threading.Timer(limit, _die).start()
        return

    start = history.start

    def started(*a, **kw):
        st.started = True
        return start(*a, **kw)

    history.start = started
    one_batch = workers_mod.Worker._one_batch

    def worker_batch(self):  # a worker that joined a run: counting starts here
        st.started = True
        return one_batch(self)

    workers_mod.Worker._one_batch = worker_batch

    make_engine = db.make_engine

    def hooked_engine(url):
        engine = make_engine(url)

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(*_a, **_kw):
            if st.started and point == "stmt":
                st.stmts += 1
                if st.stmts >= limit:
                    _die()

        if point == "bulk" and engine.dialect.name == "sqlite":
            @event.listens_for(engine, "connect")
            def _vm(dbapi_conn, _record):
                def step() -> int:
                    if st.in_bulk:
                        st.bulk += 1
                        if st.bulk >= limit:
                            _die()
                    return 0
                dbapi_conn.set_progress_handler(step, 50)

        @event.listens_for(engine, "commit")
        def _commit(*_a, **_kw):
            if st.started and point == "commit":
                st.commits += 1
                if st.commits == limit:
                    if delay is None:
                        _die()
                    threading.Timer(delay, _die).start()

        return engine

    db.make_engine = hooked_engine

    class Bar:
        def update(self, n: int = 1) -> None:
            if point != "progress":
                return
            st.progress += 1
            if st.progress == limit:
                if action == "pause":
                    print("MK-PAUSED", flush=True)
                    _wait_for_resume()
                    return
                _die()

        def close(self) -> None:
            pass

        def set_postfix_str(self, s: str) -> None:
            pass

    for mod in (import_mod, prepare_mod, export_mod, workers_mod):
        mod.progress_bar = lambda *a, **kw: Bar()
    if point == "bulk":
        import psycopg

        import migration_kit.engine.join as join_mod
        import migration_kit.erp.store as store_mod

        bulk_insert = store_mod.bulk_insert

        def bulk(*a, **kw):
            st.in_bulk = st.started
            try:
                return bulk_insert(*a, **kw)
            finally:
                st.in_bulk = False
        for mod in (store_mod, prepare_mod, export_mod, join_mod, import_mod):
            mod.bulk_insert = bulk
        write_row = psycopg.Copy.write_row

        def counted_row(self, row):
            if st.in_bulk:
                st.bulk += 1
                if st.bulk >= limit:
                    _die()
            return write_row(self, row)
        psycopg.Copy.write_row = counted_row

    if point == "rows":
        for type_name in ("csv", "excel", "xml"):
            cls = type(get_provider_type(type_name))
            write = cls.write

            def counted(self, path, params, schema, columns, rows, _write=write):
                def gen():
                    for i, r in enumerate(rows, 1):
                        if i > limit:
                            _die()
                        yield r
                return _write(self, path, params, schema, columns, gen())

            cls.write = counted


def main() -> int:
    hook = os.environ.get("MK_TEST_HOOK")
    if hook:
        install(hook)
    from migration_kit.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
