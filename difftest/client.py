"""One psycopg2 connection per corpus file and server, every value kept as the server's text.

psycopg2 is what hati's SDK uses. The connection is in autocommit mode and sends each
statement as it is (simple query protocol). A typecaster that returns the raw text for
every built-in type OID replaces psycopg2's conversions, so what is compared is what
the server printed.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable

import psycopg2
import psycopg2.extensions

from difftest.compare import Outcome

# Every built-in type (OIDs below FirstNormalObjectId); user types arrive as text anyway.
_TEXT = psycopg2.extensions.new_type(tuple(range(1, 16384)), "DIFFTEST_TEXT", lambda v, _c: v)
CANCEL_GRACE_S = 3.0


class Client:
    """Runs statements in order on one connection, with a timeout per statement.

    At the timeout the statement is cancelled; if the server still has not answered
    ``CANCEL_GRACE_S`` later, ``on_hang`` is called (it kills the server or the backend)."""

    def __init__(self, dsn: str, timeout_s: float, on_hang: Callable[[], None]) -> None:
        self.dsn = dsn
        self.timeout_s = timeout_s
        self.on_hang = on_hang
        self.conn: psycopg2.extensions.connection | None = None
        self.gone = False  # the server was killed: nothing more runs on it
        self.connect()

    def connect(self) -> None:
        conn = psycopg2.connect(self.dsn, connect_timeout=30)
        conn.autocommit = True
        psycopg2.extensions.register_type(_TEXT, conn)
        self.conn = conn

    def backend_pid(self) -> int | None:
        return self.conn.info.backend_pid if self.conn is not None else None

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
        self.conn = None

    def run(self, sql: str, copy_data: str | None = None, copy_out: bool = False) -> Outcome:
        """Run one statement; ``copy_data`` feeds COPY FROM STDIN, ``copy_out`` reads
        COPY TO STDOUT (its lines become rows of one column ``COPY``)."""
        if self.gone:
            return Outcome(ok=False, not_run=True)
        if self.conn is None or self.conn.closed:
            try:
                self.connect()
            except psycopg2.Error as exc:
                return Outcome(ok=False, message=f"cannot reconnect: {exc}".strip())
        assert self.conn is not None
        fired: list[str] = []
        conn = self.conn

        def cancel() -> None:
            fired.append("cancel")
            with contextlib.suppress(psycopg2.Error):
                conn.cancel()

        def hang() -> None:
            fired.append("hang")
            self.on_hang()

        timers = [
            threading.Timer(self.timeout_s, cancel),
            threading.Timer(self.timeout_s + CANCEL_GRACE_S, hang),
        ]
        for t in timers:
            t.daemon = True
            t.start()
        t0 = time.perf_counter()
        try:
            outcome = self._execute(sql, copy_data, copy_out)
        finally:
            for t in timers:
                t.cancel()
        seconds = time.perf_counter() - t0
        if fired:
            if "hang" in fired:
                self.gone = True
                self.close()
                msg = f"no answer in {self.timeout_s:.0f} s, nor to the cancel request"
            else:
                msg = f"cancelled after {self.timeout_s:.0f} s"
            return Outcome(ok=False, timeout=True, message=msg, seconds=seconds)
        return Outcome(**{**outcome.__dict__, "seconds": seconds})

    def _execute(self, sql: str, copy_data: str | None, copy_out: bool) -> Outcome:
        assert self.conn is not None
        try:
            with self.conn.cursor() as cur:
                if copy_data is not None:
                    cur.copy_expert(sql, io.StringIO(copy_data))
                    return Outcome(ok=True, tag=cur.statusmessage)
                if copy_out:
                    buf = io.StringIO()
                    cur.copy_expert(sql, buf)
                    rows = tuple((line,) for line in buf.getvalue().splitlines())
                    return Outcome(ok=True, columns=("COPY",), rows=rows, tag=cur.statusmessage)
                cur.execute(sql)
                if cur.description is None:
                    return Outcome(ok=True, tag=cur.statusmessage)
                columns = tuple(d.name for d in cur.description)
                rows = tuple(tuple(r) for r in cur.fetchall())
                return Outcome(ok=True, columns=columns, rows=rows, tag=cur.statusmessage)
        except psycopg2.Error as exc:
            message = (exc.pgerror or str(exc)).strip()
            if message.startswith("ERROR:"):
                message = message[len("ERROR:") :].strip()
            return Outcome(
                ok=False, sqlstate=exc.pgcode, message=message.splitlines()[0] if message else ""
            )
