"""PostgreSQL's own regression files for the installed server, fetched at run time.

The files come from the distribution's source package of the installed PostgreSQL
(``apt-get source``, with private apt state and ``deb-src`` entries derived from the
machine's own ``deb`` sources), are unpacked under ``~/.cache/difftest`` and never
committed. Every file runs on a fresh database made from a template that holds what
``test_setup.sql`` creates (onek, tenk1, INT4_TBL, ...).
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pglast
from pglast import ast
from pglast.visitors import Visitor

from difftest.client import Client
from difftest.corpus import read_script
from difftest.hatiserver import HatiServer
from difftest.runner import Runner

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "difftest"

# The files of the measurement, and the family each belongs to.
REGRESS_FILES: dict[str, str] = {
    **dict.fromkeys(
        (
            "select",
            "select_distinct",
            "limit",
            "union",
            "case",
            "subselect",
            "join",
            "with",
            "window",
            "aggregates",
        ),
        "queries",
    ),
    **dict.fromkeys(("insert", "update", "delete", "returning", "insert_conflict"), "dml"),
    **dict.fromkeys(("create_table", "create_index", "alter_table", "sequence"), "ddl"),
    **dict.fromkeys(("strings", "numeric", "date", "timestamp", "json", "jsonb"), "types"),
    "transactions": "transactions",
}


class FetchError(RuntimeError):
    pass


def _apt_sources() -> list[str]:
    """``deb-src`` lines for every ``deb`` source the machine's apt already uses."""
    out: list[str] = []
    etc = Path("/etc/apt")
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for f in files:
        if not f.is_file():
            continue
        for line in f.read_text().splitlines():
            if line.strip().startswith("deb "):
                out.append("deb-src " + line.strip()[4:])
    for f in sorted((etc / "sources.list.d").glob("*.sources")):
        for block in f.read_text().split("\n\n"):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.strip()
            if "deb" not in fields.get("Types", "").split():
                continue
            opts = (
                f"[signed-by={fields['Signed-By']}] "
                if fields.get("Signed-By", "").startswith("/")
                else ""
            )
            for uri in fields.get("URIs", "").split():
                for suite in fields.get("Suites", "").split():
                    out.append(
                        f"deb-src {opts}{uri} {suite} {fields.get('Components', '')}".strip()
                    )
    return out


def _package_version(major: str) -> tuple[str, str]:
    pkg = f"postgresql-{major}"
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=False
    )
    if res.returncode != 0 or not res.stdout.strip():
        raise FetchError(f"package {pkg} is not installed: its source version is unknown")
    return pkg, res.stdout.strip()


def fetch(server_version: str, log: Callable[[str], None] = print) -> Path:
    """The ``src/test/regress`` dir of the installed server's source, fetched once."""
    major = server_version.split(".")[0]
    pkg, version = _package_version(major)
    target = CACHE / f"{pkg}_{version}" / "regress"
    if (target / "sql" / "test_setup.sql").is_file():
        return target
    apt = CACHE / "apt"
    for d in ("lists/partial", "cache/archives/partial", "parts", "src"):
        (apt / d).mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text("\n".join(_apt_sources()) + "\n")
    opts = [
        f"-oDir::Etc::SourceList={apt / 'sources.list'}",
        f"-oDir::Etc::SourceParts={apt / 'parts'}",
        f"-oDir::State::Lists={apt / 'lists'}",
        f"-oDir::Cache={apt / 'cache'}",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oAPT::Sandbox::User=_apt",
        "-qq",
    ]
    log(f"fetching the source of {pkg} {version} with apt-get source (once)")
    for cmd in (["update"], ["source", "--download-only", f"{pkg}={version}"]):
        res = subprocess.run(
            ["apt-get", *opts, *cmd], cwd=apt / "src", capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            raise FetchError(
                f"apt-get {cmd[0]} failed: {(res.stderr or res.stdout).strip()[-500:]}"
            )
    upstream = version.split("-")[0].split(":")[-1]
    tarballs = sorted((apt / "src").glob(f"{pkg}_{upstream}.orig.tar.*"))
    if not tarballs:
        raise FetchError(f"no {pkg}_{upstream}.orig.tar.* after apt-get source")
    wanted = re.compile(r"^[^/]+/src/test/regress/(sql|data|expected)/[^/]+$")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs[0]) as tf:
        for member in tf:
            if member.isfile() and wanted.match(member.name):
                rel = Path(*Path(member.name).parts[4:])
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                assert src is not None
                (target / rel).write_bytes(src.read())
    return target


def psql_env(regress: Path) -> dict[str, str]:
    """What pg_regress puts in the environment for ``\\getenv``."""
    return {
        "PG_ABS_SRCDIR": str(regress),
        "PG_ABS_BUILDDIR": str(regress),
        "PG_LIBDIR": str(regress / "lib-not-built"),
        "PG_DLSUFFIX": ".so",
    }


# ---------------------------------------------------------------- scope

SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
OID_TYPES = frozenset(
    {"oid", "regclass", "regtype", "regproc", "regprocedure", "regoper", "regoperator"}
    | {"regnamespace", "regrole", "regconfig", "regdictionary", "regcollation", "xid", "cid", "tid"}
)
INTERNAL_SETTINGS = re.compile(
    r"^(enable_|jit|work_mem|maintenance_work_mem|parallel_|max_parallel|min_parallel|force_parallel"
    r"|random_page_cost|seq_page_cost|cpu_|plan_cache_mode|debug_|track_|session_replication_role"
    r"|constraint_exclusion|from_collapse|join_collapse|geqo|default_statistics_target|hash_mem"
    r"|effective_|recursive_worktable_factor|vacuum_|autovacuum|synchronous_commit)"
)
MAINTENANCE = (
    ast.VacuumStmt,
    ast.ClusterStmt,
    ast.CheckPointStmt,
    ast.ReindexStmt,
    ast.DiscardStmt,
    ast.LoadStmt,
    ast.AlterSystemStmt,
)
PUBLIC_PG_FUNCTIONS = frozenset({"pg_typeof", "pg_sleep"})


class _Scope(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.reason = ""

    def _found(self, reason: str) -> None:
        self.reason = self.reason or reason

    def visit_RangeVar(self, _ancestors: object, node: ast.RangeVar) -> None:
        if node.schemaname in ("pg_catalog", "pg_toast") or (node.relname or "").startswith("pg_"):
            self._found("system-catalogs")

    def visit_ColumnRef(self, _ancestors: object, node: ast.ColumnRef) -> None:
        last = node.fields[-1] if node.fields else None
        if isinstance(last, ast.String) and last.sval in SYSTEM_COLUMNS:
            self._found("system-columns")

    def visit_TypeName(self, _ancestors: object, node: ast.TypeName) -> None:
        last = node.names[-1] if node.names else None
        if isinstance(last, ast.String) and last.sval in OID_TYPES:
            self._found("oid-types")

    def visit_FuncCall(self, _ancestors: object, node: ast.FuncCall) -> None:
        name = node.funcname[-1].sval if node.funcname else ""
        if (name.startswith("pg_") and name not in PUBLIC_PG_FUNCTIONS) or name.startswith("txid_"):
            self._found("server-functions")


def scope_of(sql: str) -> str:
    """Why a regression statement is out of scope ("" when it is in scope)."""
    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return ""
    for raw in stmts:
        node = raw.stmt
        if isinstance(node, MAINTENANCE):
            return "maintenance"
        if isinstance(node, ast.VariableSetStmt | ast.VariableShowStmt) and INTERNAL_SETTINGS.match(
            (node.name or "").lower()
        ):
            return "planner-settings"
        if isinstance(node, ast.CreateFunctionStmt):
            for opt in node.options or ():
                if opt.defname == "language" and str(getattr(opt.arg, "sval", "")).lower() == "c":
                    return "c-functions"
        if isinstance(node, ast.CreateOpClassStmt | ast.CreateOpFamilyStmt):
            return "c-functions"
        if isinstance(node, ast.ExplainStmt):
            continue  # plans are compared as success or failure only
        v = _Scope()
        v(node)
        if v.reason:
            return v.reason
    return ""


# ---------------------------------------------------------------- setup fallbacks

# Types hati may lack, stood in for by text when a setup table cannot be created as written.
STAND_IN_TYPES = frozenset({"name", "point", "path", "lseg", "box", "polygon", "line", "circle"})


def setup_fallback_create(sql: str, known: dict[str, list[ast.ColumnDef]]) -> str | None:
    """A CREATE TABLE hati may accept: stand-in types, inherited columns written out."""
    try:
        (raw,) = pglast.parse_sql(sql)
    except (pglast.parser.ParseError, ValueError):
        return None
    node = raw.stmt
    if not isinstance(node, ast.CreateStmt):
        return None
    cols: list[ast.ColumnDef] = []
    for parent in node.inhRelations or ():
        cols += known.get(parent.relname.lower(), [])
    for elt in node.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            cols.append(elt)
    for col in cols:
        names = col.typeName.names
        if names and names[-1].sval in STAND_IN_TYPES:
            col.typeName = ast.TypeName(names=(ast.String(sval="text"),), typemod=-1)
    known[node.relation.relname.lower()] = cols
    node.inhRelations = None
    node.tableElts = tuple(cols) + tuple(
        e for e in node.tableElts or () if not isinstance(e, ast.ColumnDef)
    )
    return pglast.stream.RawStream()(node)


def remember_columns(sql: str, known: dict[str, list[ast.ColumnDef]]) -> None:
    """Record a created table's columns (with its parents'), for children that inherit."""
    try:
        (raw,) = pglast.parse_sql(sql)
    except (pglast.parser.ParseError, ValueError):
        return
    node = raw.stmt
    if isinstance(node, ast.CreateStmt):
        cols: list[ast.ColumnDef] = []
        for parent in node.inhRelations or ():
            cols += known.get(parent.relname.lower(), [])
        cols += [e for e in node.tableElts or () if isinstance(e, ast.ColumnDef)]
        known[node.relation.relname.lower()] = cols


def copy_as_inserts(sql: str, data: str, batch: int = 500) -> list[str]:
    """COPY ... FROM STDIN (text format) as INSERT statements, for a server without COPY."""
    (raw,) = pglast.parse_sql(sql)
    copy = raw.stmt
    assert isinstance(copy, ast.CopyStmt)
    null = "\\N"
    for opt in copy.options or ():
        if opt.defname == "null":
            null = opt.arg.sval
    rel = pglast.stream.RawStream()(copy.relation)
    cols = ""
    if copy.attlist:
        cols = " (" + ", ".join(a.sval for a in copy.attlist) + ")"
    rows = []
    for line in data.splitlines():
        vals = []
        for field in line.split("\t"):
            if field == null:
                vals.append("NULL")
            else:
                text = _copy_unescape(field)
                vals.append("'" + text.replace("'", "''") + "'")
        rows.append("(" + ", ".join(vals) + ")")
    return [
        f"INSERT INTO {rel}{cols} VALUES " + ", ".join(rows[i : i + batch])
        for i in range(0, len(rows), batch)
    ]


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _copy_unescape(field: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), field)


def build_setup(
    runner: Runner, regress: Path, log: Callable[[str], None] = print
) -> tuple[str, Path, list[str]]:
    """Run test_setup.sql on a PostgreSQL database and a hati data dir, to copy per file.

    Where hati refuses a setup statement that PostgreSQL accepts, a stand-in is tried
    (types it lacks as text, inherited columns written out, COPY as INSERTs), so that the
    files measure their own statements rather than the setup. Returns the PostgreSQL
    template database, the hati template dir, and notes for the report."""
    script = read_script(
        (regress / "sql" / "test_setup.sql").read_text(),
        "test_setup",
        "setup",
        env=psql_env(regress),
        data_root=regress,
    )
    db = runner.new_database()
    hati_dir = runner.new_hati_dir()
    server = HatiServer(hati_dir).start()
    pg = Client(runner.pg.dsn(db), runner.timeout_s, lambda: None)
    hati = Client(server.dsn(), runner.timeout_s, server.kill)
    known: dict[str, list[ast.ColumnDef]] = {}
    stood_in: list[str] = []
    failed: list[str] = []
    both_failed = 0
    try:
        for stmt in script.statements:
            if not stmt.send:
                continue
            p = pg.run(stmt.sql, stmt.copy_data)
            h = hati.run(stmt.sql, stmt.copy_data)
            first = " ".join(stmt.sql.split())[:70]
            if not p.ok:
                both_failed += not h.ok
                continue
            if h.ok:
                remember_columns(stmt.sql, known)
                continue
            if stmt.copy_data is not None:
                alts = copy_as_inserts(stmt.sql, stmt.copy_data)
            else:
                alt = setup_fallback_create(stmt.sql, known)
                alts = [alt] if alt else []
            if alts and all(hati.run(a).ok for a in alts):
                stood_in.append(f"`{first}` ({h.sqlstate}: {h.message[:80]})")
            else:
                failed.append(f"`{first}` ({h.sqlstate}: {h.message[:80]})")
    finally:
        pg.close()
        hati.close()
        server.stop()
    notes = [
        f"Setup: `test_setup.sql` ({len(script.statements)} statements) ran once per side into a "
        "template; each file starts from a copy (PostgreSQL: CREATE DATABASE ... TEMPLATE; hati: "
        "a copy of the stopped server's data dir). Files under `data/` that the script COPYs "
        "from the server are sent as COPY FROM STDIN with their contents, as psql's \\copy would.",
        f"Setup statements that failed on PostgreSQL too (C functions of the test library): {both_failed}.",
    ]
    if stood_in:
        notes.append(
            f"Setup statements hati refused, loaded through a stand-in instead ({len(stood_in)}): "
            + "; ".join(stood_in)
        )
    if failed:
        notes.append(
            f"Setup statements hati refused, no stand-in worked ({len(failed)}): "
            + "; ".join(failed)
        )
    log(
        f"  setup: {len(stood_in)} stand-ins for hati, {len(failed)} setup statements missing on hati"
    )
    return db, hati_dir, notes
