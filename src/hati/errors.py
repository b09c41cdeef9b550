"""One exception tree for hati; every class carries its SQLSTATE.

``HatiError`` is the root. The server turns any exception into a PostgreSQL
ErrorResponse through :func:`to_sql_error`, the single place where foreign
exceptions (DuckDB, sqlglot, OS errors) are mapped to SQLSTATE codes.

    HatiError                      XX000 internal_error
    ├── ProtocolViolation          08P01
    ├── AuthenticationFailed       28P01
    ├── FeatureNotSupported        0A000
    ├── InvalidParameter           22023 (bad branch name, bad strategy)
    ├── UndefinedObject            42704 (unknown branch)
    ├── DuplicateObject            42710 (branch name taken)
    ├── UndefinedTable             42P01
    ├── InsufficientPrivilege      42501 (writing main from a branch session)
    ├── SyntaxError_               42601
    ├── SerializationFailure       40001 (write conflict, merge abort)
    ├── InFailedTransaction        25P02
    ├── QueryCanceled              57014
    └── TooManyConnections         53300
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class HatiError(Exception):
    """Root of hati's errors. ``sqlstate`` is what the client sees."""

    sqlstate = "XX000"

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint


class ProtocolViolation(HatiError):
    sqlstate = "08P01"


class AuthenticationFailed(HatiError):
    sqlstate = "28P01"


class FeatureNotSupported(HatiError):
    sqlstate = "0A000"


class InvalidParameter(HatiError):
    sqlstate = "22023"


class UndefinedObject(HatiError):
    sqlstate = "42704"


class DuplicateObject(HatiError):
    sqlstate = "42710"


class UndefinedTable(HatiError):
    sqlstate = "42P01"


class InsufficientPrivilege(HatiError):
    sqlstate = "42501"


class SyntaxError_(HatiError):  # noqa: N801 - avoid shadowing the builtin
    sqlstate = "42601"


class SerializationFailure(HatiError):
    sqlstate = "40001"


class InFailedTransaction(HatiError):
    sqlstate = "25P02"


class QueryCanceled(HatiError):
    sqlstate = "57014"


class TooManyConnections(HatiError):
    sqlstate = "53300"


class ObjectInUse(HatiError):
    sqlstate = "55006"


class LockNotAvailable(HatiError):
    sqlstate = "55P03"


class DependentObjects(HatiError):
    sqlstate = "2BP01"


class DuplicateTable(HatiError):
    sqlstate = "42P07"


class UniqueViolation(HatiError):
    sqlstate = "23505"


@dataclass(frozen=True)
class SqlError:
    """What an ErrorResponse carries."""

    sqlstate: str
    message: str
    severity: str = "ERROR"
    detail: str | None = None
    hint: str | None = None


# DuckDB exception class name -> SQLSTATE. Ordered by specificity where it matters.
_DUCKDB_STATES: dict[str, str] = {
    "ParserException": "42601",
    "SyntaxException": "42601",
    "BinderException": "42703",
    "CatalogException": "42P01",
    "ConstraintException": "23505",
    "ConversionException": "22P02",
    "OutOfRangeException": "22003",
    "InvalidInputException": "22023",
    "TypeMismatchException": "42804",
    "TransactionException": "40001",
    "InterruptException": "57014",
    "NotImplementedException": "0A000",
    "PermissionException": "42501",
    "DependencyException": "2BP01",
    "OutOfMemoryException": "53200",
    "IOException": "58030",
    "SerializationException": "XX000",
    "InternalException": "XX000",
}

_CATALOG_MISSING = re.compile(
    r"(Table|View|Schema|Type|Sequence|Index) with name (\S+) does not exist"
)


def _duckdb_state(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    if name == "CatalogException":
        m = _CATALOG_MISSING.search(text)
        if m:
            kind = m.group(1)
            return {"Table": "42P01", "View": "42P01", "Schema": "3F000"}.get(kind, "42704")
        if "Function with name" in text:
            return "42883"
        if "already exists" in text:
            return "42P07"
        return "42P01"
    if name == "ConstraintException":
        if "NOT NULL" in text:
            return "23502"
        if "foreign key" in text.lower():
            return "23503"
        if "CHECK" in text:
            return "23514"
        return "23505"
    if name == "BinderException" and "does not exist" not in text and "not found" not in text:
        return "42601" if "syntax" in text.lower() else "42703"
    if "Conflict on" in text or (name == "TransactionException" and "conflict" in text.lower()):
        return "40001"
    if name == "InvalidInputException" and "Division by zero" in text:
        return "22012"
    if name == "OutOfRangeException" and "Division by zero" in text:
        return "22012"
    return _DUCKDB_STATES.get(name, "XX000")


def _strip_duckdb_prefix(text: str) -> str:
    """DuckDB prefixes messages with '<Kind> Error: '; PostgreSQL clients do not expect it."""
    return re.sub(r"^[A-Za-z ]+ Error: ", "", text, count=1).strip()


def to_sql_error(exc: BaseException) -> SqlError:
    """Map any exception to what the client sees. The only place that does this."""
    if isinstance(exc, HatiError):
        return SqlError(exc.sqlstate, exc.message, detail=exc.detail, hint=exc.hint)
    module = type(exc).__module__ or ""
    if module.startswith("duckdb") or module == "_duckdb":
        text = str(exc)
        state = _duckdb_state(exc)
        message = _strip_duckdb_prefix(text)
        hint = None
        if state == "40001":
            hint = "Another session changed the same rows first; retry the transaction."
        first, _, rest = message.partition("\n")
        return SqlError(state, first, detail=rest.strip() or None, hint=hint)
    if type(exc).__name__ in ("ParseError", "TokenError") and module.startswith("sqlglot"):
        return SqlError("42601", f"syntax error: {str(exc).splitlines()[0]}")
    if isinstance(exc, MemoryError):
        return SqlError("53200", "out of memory")
    return SqlError("XX000", f"internal error: {type(exc).__name__}: {exc}")
