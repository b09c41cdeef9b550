"""Run-time parameters (GUCs): SET / RESET / SHOW as PostgreSQL answers them, per session.

``SET``/``SHOW``/``RESET`` act on a :class:`Settings` object: values are checked and
normalized as PostgreSQL does (``SET statement_timeout = 60000`` shows ``1min``, booleans
show ``on``/``off``, unknown names are 42704 unless they are ``custom.names``), ``SET
LOCAL`` lasts until the transaction ends, and settings PostgreSQL reports to the client
(ParameterStatus) are flagged so the connection can send the new value. DuckDB's own
configuration is fixed at start-up and locked; no client statement reaches it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pglast import ast

from hati.branching import layout
from hati.errors import (
    CantChangeRuntimeParam,
    FeatureNotSupported,
    InvalidParameter,
    QueryCanceled,
    UndefinedFunction,
    UndefinedObject,
)
from hati.pg import pg15_gucs, timezones
from hati.pg.translate import walk
from hati.storage.duckdb_backend import qident

SERVER_VERSION = "15.0 (hati 0.1.0)"
SERVER_VERSION_NUM = "150000"
BRANCH_SETTING = "hatidata_branch"
AGENT_SETTING = "hatidata_agent_id"
# hati's tags: recorded in the audit trail with every statement.
AGENT_SETTINGS = (
    AGENT_SETTING,
    "hatidata_framework",
    "hatidata_priority",
    "hatidata_request_id",
    "hatidata_reasoning_step",
    "hatidata_parent_request_id",
    BRANCH_SETTING,
)


@dataclass(frozen=True)
class Guc:
    name: str  # as PostgreSQL spells it in SHOW ALL (case matters there)
    default: str
    kind: str = "string"  # string | bool | int | real | enum | time | memory
    values: tuple[str, ...] = ()  # enum
    unit: str = ""  # base unit of time (ms, s, min) and memory (kB) settings
    lo: float | None = None
    hi: float | None = None
    reported: bool = False  # sent to the client as ParameterStatus when it changes
    readonly: bool = False
    description: str = ""
    context: str = "user"  # PostgreSQL's: when it may change (pg_settings.context)


def _g(*args: object, **kwargs: object) -> Guc:
    return Guc(*args, **kwargs)  # type: ignore[arg-type]


_ISOLATION = ("serializable", "repeatable read", "read committed", "read uncommitted")
GUCS: dict[str, Guc] = {
    g.name.lower(): g
    for g in (
        _g("application_name", "", reported=True, description="Sets the application name."),
        _g("client_encoding", "UTF8", reported=True, description="Sets the client's encoding."),
        _g(
            "DateStyle", "ISO, MDY", reported=True, description="Sets the display format for dates."
        ),
        _g(
            "IntervalStyle",
            "postgres",
            "enum",
            ("postgres", "postgres_verbose", "sql_standard", "iso_8601"),
            reported=True,
        ),
        _g("TimeZone", "UTC", reported=True, description="Sets the time zone for timestamps."),
        _g("standard_conforming_strings", "on", "bool", reported=True),
        _g("integer_datetimes", "on", "bool", reported=True, readonly=True),
        _g("is_superuser", "off", "bool", reported=True, readonly=True),
        _g("server_version", SERVER_VERSION, reported=True, readonly=True),
        _g("server_version_num", SERVER_VERSION_NUM, readonly=True),
        _g("server_encoding", "UTF8", reported=True, readonly=True),
        _g("session_authorization", "", reported=True, readonly=True),
        _g("default_transaction_read_only", "off", "bool", reported=True),
        _g("in_hot_standby", "off", "bool", reported=True, readonly=True),
        _g("search_path", '"$user", public', description="Sets the schema search order."),
        _g("statement_timeout", "0", "time", unit="ms", lo=0, hi=2**31 - 1),
        _g("lock_timeout", "0", "time", unit="ms", lo=0, hi=2**31 - 1),
        _g("idle_in_transaction_session_timeout", "0", "time", unit="ms", lo=0, hi=2**31 - 1),
        _g("idle_session_timeout", "0", "time", unit="ms", lo=0, hi=2**31 - 1),
        _g("extra_float_digits", "1", "int", lo=-15, hi=3),
        _g("bytea_output", "hex", "enum", ("escape", "hex")),
        _g(
            "client_min_messages",
            "notice",
            "enum",
            ("debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error"),
        ),
        _g("default_transaction_isolation", "repeatable read", "enum", _ISOLATION),
        _g("transaction_isolation", "repeatable read", "enum", _ISOLATION),
        _g("transaction_read_only", "off", "bool"),
        _g("default_transaction_deferrable", "off", "bool"),
        _g("transaction_deferrable", "off", "bool"),
        _g(
            "synchronous_commit",
            "on",
            "enum",
            ("local", "remote_write", "remote_apply", "on", "off"),
        ),
        _g("work_mem", "4096", "memory", unit="kB", lo=64, hi=2**31 - 1),
        _g("maintenance_work_mem", "65536", "memory", unit="kB", lo=1024, hi=2**31 - 1),
        _g("temp_buffers", "1024", "memory", unit="kB", lo=100, hi=2**31 - 1),
        _g("jit", "off", "bool"),
        _g("lc_messages", "C"),
        _g("lc_monetary", "C"),
        _g("lc_numeric", "C"),
        _g("lc_time", "C"),
        _g("lc_collate", "C", readonly=True),
        _g("lc_ctype", "C", readonly=True),
        _g("max_identifier_length", "63", "int", readonly=True),
        _g("max_connections", "100", "int", readonly=True),
        _g("block_size", "8192", "int", readonly=True),
        _g("row_security", "on", "bool"),
        _g("check_function_bodies", "on", "bool"),
        _g("plan_cache_mode", "auto", "enum", ("auto", "force_generic_plan", "force_custom_plan")),
        _g("geqo", "on", "bool"),
        _g("random_page_cost", "4", "real", lo=0),
        _g("effective_cache_size", "524288", "memory", unit="8kB"),
        _g("max_parallel_workers_per_gather", "2", "int", lo=0, hi=1024),
        _g("enable_seqscan", "on", "bool"),
        _g("enable_indexscan", "on", "bool"),
        _g("enable_bitmapscan", "on", "bool"),
        _g("enable_hashjoin", "on", "bool"),
        _g("enable_mergejoin", "on", "bool"),
        _g("enable_nestloop", "on", "bool"),
        _g("enable_sort", "on", "bool"),
        _g("enable_hashagg", "on", "bool"),
        _g("escape_string_warning", "on", "bool"),
        _g("xmloption", "content", "enum", ("content", "document")),
        _g("timezone_abbreviations", "Default"),
        _g("session_replication_role", "origin", "enum", ("origin", "replica", "local")),
        _g("vacuum_freeze_min_age", "50000000", "int"),
        _g("log_statement", "none", "enum", ("none", "ddl", "mod", "all")),
        _g("track_io_timing", "off", "bool"),
        _g("default_table_access_method", "heap"),
        _g("default_tablespace", ""),
        _g("password_encryption", "scram-sha-256", "enum", ("md5", "scram-sha-256")),
        *(
            _g(name, "", description="hati: recorded with every statement in hati_audit.")
            for name in AGENT_SETTINGS
        ),
    )
}
_KINDS = {"bool": "bool", "integer": "int", "real": "real", "enum": "enum", "string": "string"}


def _pg15(row: str) -> Guc:
    """A parameter of PostgreSQL 15 hati does not act on (pg15_gucs.py): SHOW answers its
    default; SET checks the value and keeps it where PostgreSQL lets a session set it."""
    name, value, unit, vartype, context, enums, lo, hi, desc = row.split("\t")
    kind = _KINDS[vartype]
    if unit in ("us", "ms", "s", "min"):
        kind = "time"
    elif unit in ("B", "kB", "8kB", "MB"):
        kind = "memory"
    return Guc(
        name,
        value,
        kind,
        tuple(enums.split(",")) if enums else (),
        unit,
        float(lo) if lo else None,
        float(hi) if hi else None,
        readonly=context not in ("user", "superuser"),
        description=desc,
        context=context,
    )


for _row in pg15_gucs.ROWS.splitlines():
    _g15 = _pg15(_row)
    GUCS.setdefault(_g15.name.lower(), _g15)
# What a new connection is told in ParameterStatus messages (PostgreSQL 15's list).
STARTUP_STATUS = {g.name: g.default for g in GUCS.values() if g.reported}
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")
_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_MEM_UNITS = {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}
_WITH_UNIT = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")
_DATESTYLE_OUT = {"iso": "ISO", "sql": "SQL", "postgres": "Postgres", "german": "German"}
_DATESTYLE_ORDER = {
    "mdy": "MDY",
    "dmy": "DMY",
    "ymd": "YMD",
    "us": "MDY",
    "european": "DMY",
    "noneuropean": "MDY",
}


def _invalid(g: Guc, value: str) -> InvalidParameter:
    return InvalidParameter(f'invalid value for parameter "{g.name}": "{value}"')


def _show_scaled(n: float, units: dict[str, float], base: str) -> str:
    """PostgreSQL shows a value in the largest unit that divides it exactly."""
    if n == 0:
        return "0"
    ms = n * units[base]
    for unit, size in sorted(units.items(), key=lambda kv: -kv[1]):
        if size >= units[base] and ms % size == 0:
            return f"{int(ms // size)}{unit}"
    return f"{int(n)}{base}"


def _scaled(g: Guc, value: str, units: dict[str, float]) -> str:
    m = _WITH_UNIT.fullmatch(value)
    if m is None:
        raise _invalid(g, value)
    number, unit = float(m.group(1)), m.group(2) or g.unit
    if unit not in units:
        valid = ", ".join(f'"{u}"' for u in units)
        raise InvalidParameter(
            f'invalid value for parameter "{g.name}": "{value}"',
            hint=f"Valid units for this parameter are {valid}.",
        )
    base = number * units[unit] / units[g.unit]
    if (g.lo is not None and base < g.lo) or (g.hi is not None and base > g.hi):
        raise InvalidParameter(
            f'{value} is outside the valid range for parameter "{g.name}" ({g.lo:g} .. {g.hi:g})'
        )
    return _show_scaled(round(base), units, g.unit)


def _datestyle(g: Guc, value: str) -> str:
    style, order = "ISO", "MDY"
    for part in re.split(r"\s*,\s*|\s+", value.strip()):
        p = part.lower()
        if p in _DATESTYLE_OUT:
            style = _DATESTYLE_OUT[p]
            if p == "german" and order == "MDY":
                order = "DMY"
        elif p in _DATESTYLE_ORDER:
            order = _DATESTYLE_ORDER[p]
        elif p:
            raise _invalid(g, value)
    return f"{style}, {order}"


def normalize(g: Guc, value: str) -> str:  # noqa: C901 - one case per kind
    """The value as SHOW prints it, or 22023 when PostgreSQL would refuse it."""
    if g.kind == "bool":
        v = value.strip().lower()
        if v in _TRUE or (len(v) > 1 and "true".startswith(v)) or v == "y":
            return "on"
        if v in _FALSE or (len(v) > 1 and "false".startswith(v)) or v == "n":
            return "off"
        raise InvalidParameter(f'parameter "{g.name}" requires a Boolean value')
    if g.kind == "enum":
        v = value.strip().lower()
        if v not in g.values:
            raise InvalidParameter(
                f'invalid value for parameter "{g.name}": "{value}"',
                hint="Available values: " + ", ".join(g.values) + ".",
            )
        return v
    if g.kind == "int":
        try:
            n = int(float(value))
        except ValueError:
            raise InvalidParameter(f'invalid value for parameter "{g.name}": "{value}"') from None
        if (g.lo is not None and n < g.lo) or (g.hi is not None and n > g.hi):
            raise InvalidParameter(
                f'{n} is outside the valid range for parameter "{g.name}" ({g.lo:g} .. {g.hi:g})'
            )
        return str(n)
    if g.kind == "real":
        try:
            return f"{float(value):g}"
        except ValueError:
            raise _invalid(g, value) from None
    if g.kind == "time":
        return _scaled(g, value, _TIME_UNITS)
    if g.kind == "memory":
        return _scaled(g, value, _MEM_UNITS) if g.unit in _MEM_UNITS else value
    if g.name == "DateStyle":
        return _datestyle(g, value)
    if g.name == "TimeZone":
        return timezones.shown(value)
    return value


def milliseconds(shown: str) -> int:
    """A time setting as SHOW prints it (``1500ms``, ``1min``) in milliseconds."""
    m = _WITH_UNIT.fullmatch(shown)
    if m is None:
        return 0
    return int(float(m.group(1)) * _TIME_UNITS.get(m.group(2) or "ms", 1))


@dataclass(frozen=True)
class SettingsState:
    """A session's settings at one moment (Settings.state), to go back to."""

    session: tuple[tuple[str, str], ...]
    local: tuple[tuple[str, str], ...]
    custom: tuple[tuple[str, str], ...]


@dataclass
class Settings:
    """One session's settings: defaults, then session values, then SET LOCAL ones."""

    startup: dict[str, str] = field(default_factory=dict)  # from the StartupMessage
    session: dict[str, str] = field(default_factory=dict)
    local: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)  # names with a dot
    on_report: Callable[[str, str], None] | None = None  # ParameterStatus to send

    def lookup(self, name: str) -> Guc | None:
        return GUCS.get(name.lower())

    def get(self, name: str) -> str:
        """SHOW name (42704 when PostgreSQL does not know it)."""
        low = name.lower()
        for layer in (self.local, self.session, self.startup):
            if low in layer:
                return layer[low]
        g = GUCS.get(low)
        if g is not None:
            return g.default
        if "." in low and low in self.custom:
            return self.custom[low]
        raise UndefinedObject(f'unrecognized configuration parameter "{name}"')

    def set_config(
        self, node: ast.Node, value: Callable[[ast.Node], object], in_block: bool
    ) -> dict[int, str]:
        """``set_config(name, value, is_local)`` calls in a statement: set each setting;
        returns what each call answers, its new value as a literal, by the call's id (the
        statement's other expressions still read the old values). ``value`` evaluates an
        argument (a constant or a bound parameter)."""
        answers: dict[int, str] = {}
        for call in walk(node):
            if not isinstance(call, ast.FuncCall) or call.funcname is None:
                continue
            if call.funcname[-1].sval != "set_config":
                continue
            args = call.args or ()
            if len(args) != 3:
                raise UndefinedFunction(
                    "function set_config takes (setting_name, new_value, is_local)"
                )
            try:
                name, new, local = (value(a) for a in args)
            except ValueError:
                raise FeatureNotSupported(
                    "set_config takes constants or parameters",
                    hint="Write SELECT set_config('name', 'value', false).",
                ) from None
            self.set(str(name), None if new is None else str(new), bool(local) and in_block)
            answers[id(call)] = literal(self.get(str(name)))
        return answers

    def set(self, name: str, value: str | None, local: bool = False) -> None:
        """SET name = value (None: DEFAULT); LOCAL until the transaction ends."""
        low = name.lower()
        g = GUCS.get(low)
        if g is None:
            if "." not in low:
                raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
            if value is None:
                self.custom.pop(low, None)
            else:
                self.custom[low] = value
            return
        if g.readonly:
            raise CantChangeRuntimeParam(
                f'parameter "{g.name}" cannot be changed'
                + {"postmaster": " without restarting the server", "sighup": " now"}.get(
                    g.context, ""
                ),
                hint="hati keeps PostgreSQL's parameters; this one is not a session's to set.",
            )
        before = self.get(low)
        layer = self.local if local else self.session
        if value is None:
            layer.pop(low, None)
            if not local:
                self.local.pop(low, None)
        else:
            layer[low] = normalize(g, value)
            if not local:
                self.local.pop(low, None)
        self._report(g, before)

    def set_startup(self, name: str, value: str, *, internal: bool = False) -> None:
        """A setting from the StartupMessage (``options=-c name=value`` or a parameter):
        checked like SET, kept across RESET as the session's default. ``internal``: a
        value the server itself sets (session_authorization), read-only or not."""
        g = GUCS.get(name.lower())
        if g is None:
            if "." in name:
                self.custom[name.lower()] = value
                return
            raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
        if g.readonly and not internal:
            raise CantChangeRuntimeParam(f'parameter "{g.name}" cannot be changed')
        self.startup[name.lower()] = normalize(g, value)

    def reset_all(self) -> None:
        before = {k: self.get(k) for k in GUCS if GUCS[k].reported}
        self.session.clear()
        self.local.clear()
        self.custom.clear()
        for k, old in before.items():
            self._report(GUCS[k], old)

    def state(self) -> SettingsState:
        return SettingsState(
            tuple(self.session.items()), tuple(self.local.items()), tuple(self.custom.items())
        )

    def restore(self, saved: SettingsState) -> None:
        """Back to ``saved`` (a rolled-back transaction or savepoint undoes its SETs)."""
        before = {k: self.get(k) for k in GUCS if GUCS[k].reported}
        self.session, self.local = dict(saved.session), dict(saved.local)
        self.custom = dict(saved.custom)
        for k, old in before.items():
            self._report(GUCS[k], old)

    def end_transaction(self) -> None:
        """SET LOCAL values end with the transaction."""
        if self.local:
            before = {k: self.get(k) for k in self.local}
            self.local.clear()
            for k, old in before.items():
                g = GUCS.get(k)
                if g is not None:
                    self._report(g, old)

    def _report(self, g: Guc, before: str) -> None:
        now = self.get(g.name)
        if g.reported and now != before and self.on_report is not None:
            self.on_report(g.name, now)

    def show_all(self) -> list[tuple[str, str, str]]:
        """SHOW ALL: (name, setting, description), sorted as PostgreSQL sorts them."""
        rows = [(g.name, self.get(k), g.description) for k, g in GUCS.items()]
        return sorted(rows, key=lambda r: r[0].lower())

    def values(self) -> dict[str, str]:
        """Every setting's current value by lower-cased name (current_setting reads it)."""
        out = {k: self.get(k) for k in GUCS}
        out.update(self.custom)
        return out

    def timeout_ms(self, name: str) -> int:
        return milliseconds(self.get(name))


def parse_options(options: str) -> dict[str, str]:
    """``-c key=value`` pairs from the startup ``options`` parameter (spaces escaped with \\)."""
    out: dict[str, str] = {}
    tokens = re.findall(r"(?:\\.|[^\s])+", options or "")
    i = 0
    while i < len(tokens):
        tok = tokens[i].replace("\\ ", " ")
        if tok == "-c" and i + 1 < len(tokens):
            tok, i = tokens[i + 1].replace("\\ ", " "), i + 1
        elif tok.startswith("-c") or tok.startswith("--"):
            tok = tok[2:]
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k.strip()] = v.strip()
        i += 1
    return out


# ---------------------------------------------------------------- SET / SHOW statements
# SET TIME ZONE, SET SCHEMA and SET NAMES are spellings of these settings.
SET_ALIASES = {"time zone": "timezone", "schema": "search_path", "names": "client_encoding"}


def search_path_names(path: str) -> list[str]:
    """The schema names of a search_path value (``"$user", public``)."""
    names, cur, quoted, i = [], "", False, 0
    while i < len(path):
        c = path[i]
        if c == '"':
            if quoted and i + 1 < len(path) and path[i + 1] == '"':
                cur += '"'
                i += 1
            else:
                quoted = not quoted
        elif c == "," and not quoted:
            names.append(cur)
            cur = ""
        elif quoted or not c.isspace():
            cur += c if quoted else c.lower()
        i += 1
    names.append(cur)
    return [n for n in (x.strip() for x in names) if n]


def duckdb_search_path(path: str, existing: Callable[[], set[str]]) -> str:
    """DuckDB's search_path for a session's ``search_path`` on main, as PostgreSQL
    resolves names: public is DuckDB's main; hati's own schemas and schemas that do
    not exist (``existing()``) are passed over."""
    wanted: list[str] = []
    for name in search_path_names(path):
        schema = "main" if name in ("public", "main") else name
        if name in ("$user", "pg_catalog", "information_schema") or schema in wanted:
            continue
        if not layout.is_internal_schema(schema):
            wanted.append(schema)
    have = existing() if wanted != ["main"] else {"main"}
    return ",".join(qident(w) for w in wanted if w in have) or "main"


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def show_name(node: ast.VariableShowStmt) -> str:
    name = (node.name or "").lower()
    return {
        "transaction isolation level": "transaction_isolation",
        "time zone": "timezone",
        "session authorization": "session_authorization",
    }.get(name, name)


def set_value(node: ast.VariableSetStmt) -> str:
    """The value of ``SET name = v [, v...]`` as PostgreSQL keeps it (a list joined by
    ", ", identifiers quoted where they must be)."""
    out = []
    for arg in node.args or ():
        v = arg.arg if isinstance(arg, ast.TypeCast) else arg
        if isinstance(arg, ast.TypeCast) and _interval_cast(arg) and isinstance(v, ast.A_Const):
            text = getattr(v.val, "sval", None)
            if text is not None:
                out.append(timezones.interval_setting(text, _typmods(arg)))
                continue
        if isinstance(v, ast.A_Const) and not v.isnull:
            val = v.val
            text = getattr(val, "sval", None)
            if text is None:
                text = str(
                    getattr(val, "ival", None) if hasattr(val, "ival") else getattr(val, "fval", "")
                )
            out.append(text)
        else:
            raise FeatureNotSupported("SET takes constants", hint="Write SET name = 'value'.")
    return ", ".join(out)


def _interval_cast(arg: ast.TypeCast) -> bool:
    """``INTERVAL '+05:30' HOUR TO MINUTE`` (SET TIME ZONE's interval form)."""
    names = (arg.typeName.names if arg.typeName is not None else None) or ()
    return bool(names) and getattr(names[-1], "sval", None) == "interval"


def _typmods(arg: ast.TypeCast) -> tuple[int | None, ...]:
    mods = (arg.typeName.typmods if arg.typeName is not None else None) or ()
    return tuple(getattr(getattr(m, "val", None), "ival", None) for m in mods)


@contextlib.contextmanager
def statement_timeout(ms: int, interrupt: Callable[[], None]) -> Iterator[None]:
    """statement_timeout: a watchdog timer calls ``interrupt`` (DuckDB's interrupt, a
    lock wait's cancel) when ``ms`` run out, and the statement fails with 57014 as in
    PostgreSQL. ``ms`` 0: no limit."""
    if not ms:
        yield
        return
    fired = threading.Event()

    def time_out() -> None:
        fired.set()
        interrupt()

    timer = threading.Timer(ms / 1000, time_out)
    timer.daemon = True
    timer.start()
    try:
        yield
    except BaseException as exc:
        if fired.is_set():
            raise QueryCanceled("canceling statement due to statement timeout") from exc
        raise
    finally:
        timer.cancel()
