"""Corpus files read the way psql reads a script, split with PostgreSQL's own scanner.

A script is read line by line. Lines that start with a backslash are psql meta-commands:
they are not sent, and are counted as skipped. ``\\set`` and ``\\getenv`` define psql
variables, which are substituted into later statements as psql does (``:name``,
``:'name'``, ``:"name"``); a statement that refers to an undefined variable is out of
scope. A query ended by ``\\g``/``\\gset``/``\\gexec`` instead of ``;`` is sent as a
statement. ``COPY ... FROM STDIN`` takes the data lines up to ``\\.``. Statements are
split with ``pglast.split`` (libpg_query: PostgreSQL's own grammar, or its scanner for
text that does not parse, such as the deliberate syntax errors of a test file).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pglast
from pglast import ast, parser

from difftest.compare import Ordering, ordering_of

QUERY_TERMINATORS = ("g", "gx", "gset", "gexec", "gdesc", "crosstabview", "watch")
_INLINE_META = re.compile(
    r"^(?P<sql>.*?\S)\s*\\(?P<cmd>" + "|".join(QUERY_TERMINATORS) + r")\b(?P<rest>.*)$"
)
_COPY_STDIN = re.compile(r"^\s*copy\b.*\bfrom\s+stdin\b", re.IGNORECASE | re.DOTALL)


@dataclass
class Statement:
    """One statement of a corpus file, as it will be sent to both servers."""

    file: str
    index: int  # 1-based position among the file's statements
    line: int  # 1-based line where it starts
    sql: str
    id: str = ""
    copy_data: str | None = None  # COPY ... FROM STDIN: the data lines
    copy_out: bool = False  # COPY ... TO STDOUT
    scope: str = ""  # "" when in scope, else why not (still sent, not counted)
    send: bool = True  # False: not sent at all (e.g. an undefined psql variable)
    terminator: str = ""  # the psql meta-command that ended it, if not ';'
    ordering: Ordering = field(default_factory=Ordering)


@dataclass
class Skipped:
    line: int
    text: str
    reason: str


@dataclass
class ScriptFile:
    name: str
    family: str
    statements: list[Statement]
    skipped: list[Skipped]


def statement_id(file: str, sql: str, seen: dict[str, int]) -> str:
    """``file:hash`` of the statement text, stable when other statements move."""
    h = hashlib.sha1(" ".join(sql.split()).encode()).hexdigest()[:10]
    base = f"{file}:{h}"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}~{seen[base]}"


def _tokens(text: str) -> list[parser.Token] | None:
    """Scanner tokens of ``text``, or None while a quote or comment is still open."""
    try:
        return list(parser.scan(text))
    except parser.ParseError:
        return None


def _unterminated(text: str) -> bool:
    """Is a quote or comment still open at the end of ``text``? (Other lexical errors,
    such as an invalid escape the file tests on purpose, end with the statement.)"""
    try:
        parser.scan(text)
    except parser.ParseError as exc:
        return "unterminated" in str(exc)
    return False


def _open_atomic_body(text: str, tokens: list[parser.Token]) -> bool:
    """Inside ``BEGIN ATOMIC ... END`` (a SQL-standard function body), as psql tracks it."""
    names = [t.name for t in tokens]
    for i in range(len(names) - 1):
        if (
            names[i] == "BEGIN_P"
            and text[tokens[i + 1].start : tokens[i + 1].end + 1].upper() == "ATOMIC"
        ):
            depth = sum(1 for n in names[i:] if n in ("BEGIN_P", "CASE")) - names[i:].count("END_P")
            return depth > 0
    return False


def _complete(text: str) -> bool:
    """Does ``text`` end at a statement boundary (its last real token a ``;``)?"""
    tokens = _tokens(text)
    if tokens is None:
        return not _unterminated(text)
    real = [t for t in tokens if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    return bool(real) and real[-1].name == "ASCII_59" and not _open_atomic_body(text, real)


def split_sql(text: str) -> list[tuple[int, str]]:
    """(offset, statement) pairs, PostgreSQL's way; comments before a statement dropped."""
    try:
        slices = pglast.split(text, only_slices=True)
    except parser.ParseError:
        try:
            slices = pglast.split(text, with_parser=False, only_slices=True)
        except parser.ParseError:  # not even lexically valid: one statement, as psql sends it
            stripped = text.strip().rstrip(";").strip()
            return [(text.index(stripped), stripped)] if stripped else []
    out = []
    for sl in slices:
        chunk = text[sl]
        tokens = _tokens(chunk) or []
        real = [t for t in tokens if t.name not in ("SQL_COMMENT", "C_COMMENT")]
        if not real:
            continue
        begin = real[0].start
        out.append((sl.start + begin, chunk[begin:].strip()))
    return out


class PsqlVariables:
    """psql's ``\\set`` / ``\\getenv`` variables and their substitution into SQL."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env or {}
        self.values: dict[str, str] = {}

    def meta(self, line: str) -> None:
        words = _meta_words(line, self)
        if not words:
            return
        cmd, args = words[0], words[1:]
        if cmd == "\\set" and args:
            self.values[args[0]] = "".join(args[1:])
        elif cmd == "\\unset" and args:
            self.values.pop(args[0], None)
        elif cmd == "\\getenv" and len(args) == 2 and args[1] in self.env:
            self.values[args[0]] = self.env[args[1]]

    def substitute(self, sql: str) -> tuple[str, list[str]]:
        """The SQL with known variables replaced, and the names of unknown ones."""
        tokens = _tokens(sql)
        if tokens is None:
            return sql, []
        out, pos, unknown = [], 0, []
        for i, tok in enumerate(tokens[:-1]):
            nxt = tokens[i + 1]
            if tok.name != "ASCII_58" or nxt.start != tok.end + 1:
                continue
            prev = tokens[i - 1] if i > 0 else None
            if prev is not None and prev.end + 1 == tok.start and not prev.name.startswith("ASCII"):
                continue  # a[1:n]-style slice, not a variable
            raw = sql[nxt.start : nxt.end + 1]
            if nxt.name == "SCONST" and raw.startswith("'"):
                name, quote = raw[1:-1], "'"
            elif nxt.name == "IDENT" and raw.startswith('"'):
                name, quote = raw[1:-1], '"'
            elif nxt.name == "IDENT" or nxt.kind != "NO_KEYWORD":
                name, quote = raw, ""
            else:
                continue
            if name not in self.values:
                unknown.append(name)
                continue
            value = self.values[name]
            if quote == "'":
                value = "'" + value.replace("'", "''") + "'"
            elif quote == '"':
                value = '"' + value.replace('"', '""') + '"'
            out.append(sql[pos : tok.start])
            out.append(value)
            pos = nxt.end + 1
        out.append(sql[pos:])
        return "".join(out), unknown


def _meta_words(line: str, variables: PsqlVariables) -> list[str]:
    """Split a meta-command line as psql does: quoted words, ``:var`` interpolation."""
    words: list[str] = []
    for m in re.finditer(r"'((?:[^']|'')*)'|:'(\w+)'|:(\w+)|(\S+?)(?=\s|$|'|:)", line.strip()):
        lit, qvar, var, word = m.groups()
        if lit is not None:
            piece = lit.replace("''", "'").replace("\\\\", "\\")
        elif qvar is not None:
            piece = variables.values.get(qvar, "")
        elif var is not None:
            piece = variables.values.get(var, "")
        else:
            piece = word or ""
        glued = m.start() > 0 and not line.strip()[m.start() - 1].isspace()
        if glued and words:
            words[-1] += piece
        else:
            words.append(piece)
    return words


def read_script(  # noqa: C901 - one pass over the lines: a psql-script state machine
    text: str,
    name: str,
    family: str,
    env: dict[str, str] | None = None,
    data_root: Path | None = None,
) -> ScriptFile:
    """Read one script into the statements to send and the lines skipped.

    ``env``: environment for ``\\getenv``; ``data_root``: where ``COPY t FROM 'file'``
    may read server files, which are then sent as COPY FROM STDIN with their contents."""
    variables = PsqlVariables(env)
    statements: list[Statement] = []
    skipped: list[Skipped] = []
    seen: dict[str, int] = {}
    lines = text.splitlines(keepends=True)
    buf: list[str] = []
    buf_line = 1

    def flush(terminator: str = "") -> None:
        nonlocal buf
        chunk = "".join(buf)
        buf = []
        pieces = split_sql(chunk)
        for n, (offset, sql) in enumerate(pieces):
            line = buf_line + chunk.count("\n", 0, offset)
            stmt = Statement(file=name, index=len(statements) + 1, line=line, sql=sql)
            stmt.id = statement_id(name, sql, seen)
            if n == len(pieces) - 1:
                stmt.terminator = terminator
            # Substituted now, with the variables as they are at this point of the script.
            stmt.sql, unknown = variables.substitute(sql)
            if unknown:
                stmt.scope, stmt.send = "psql-variable", False
            statements.append(stmt)

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not buf:
            buf_line = i
        inside_literal = bool(buf) and _unterminated("".join(buf))
        if not inside_literal and line.lstrip().startswith("\\"):
            cmd = line.strip().split()[0][1:]
            if cmd in QUERY_TERMINATORS and "".join(buf).strip():
                flush("\\" + cmd)
            else:
                if "".join(buf).strip():
                    flush()
                variables.meta(line)
                skipped.append(Skipped(i, line.strip(), "psql meta-command"))
            continue
        m = _INLINE_META.match(line.rstrip("\n"))
        if m and not inside_literal and _tokens("".join(buf) + m["sql"]) is not None:
            buf.append(m["sql"] + "\n")
            flush("\\" + m["cmd"])
            continue
        buf.append(line)
        if line.rstrip().endswith(";") and _complete("".join(buf)):
            chunk = "".join(buf)
            last = split_sql(chunk)
            flush()
            if last and _COPY_STDIN.match(last[-1][1]):
                data: list[str] = []
                while i < len(lines) and lines[i].rstrip("\r\n") != "\\.":
                    data.append(lines[i])
                    i += 1
                i += 1  # the \. line
                statements[-1].copy_data = "".join(data)
    if "".join(buf).strip():
        flush()
    for stmt in statements:
        if stmt.send:
            stmt.ordering = ordering_of(stmt.sql)
            _copy_forms(stmt, data_root)
    return ScriptFile(name=name, family=family, statements=statements, skipped=skipped)


def _copy_forms(stmt: Statement, data_root: Path | None) -> None:
    try:
        parsed = pglast.parse_sql(stmt.sql)
    except parser.ParseError:
        return
    if len(parsed) != 1 or not isinstance(parsed[0].stmt, ast.CopyStmt):
        return
    copy = parsed[0].stmt
    if copy.filename is None:
        if copy.is_from and stmt.copy_data is None:
            stmt.copy_data = ""
        stmt.copy_out = not copy.is_from
        return
    path = Path(copy.filename)
    if data_root is not None and copy.is_from and path.is_file() and path.is_relative_to(data_root):
        # The server cannot read the client's files: send them as psql's \copy would.
        stmt.copy_data = path.read_text()
        stmt.sql = pglast.stream.RawStream()(_without_filename(copy))
        stmt.scope = ""
    else:
        stmt.scope = "server-file"


def _without_filename(copy: ast.CopyStmt) -> ast.CopyStmt:
    return ast.CopyStmt(
        relation=copy.relation,
        query=copy.query,
        attlist=copy.attlist,
        is_from=copy.is_from,
        is_program=False,
        filename=None,
        options=copy.options,
        whereClause=copy.whereClause,
    )


def read_files(paths: Iterable[Path], family_of: dict[str, str] | None = None) -> list[ScriptFile]:
    out = []
    for p in paths:
        fam = (family_of or {}).get(p.stem, p.stem)
        out.append(read_script(p.read_text(), p.stem, fam))
    return out
