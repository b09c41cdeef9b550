"""One exception tree for hati: every SQLSTATE hati sends is a class registered by its code.

``HatiError`` is the root. A subclass names its code in its class statement
(``class UniqueViolation(IntegrityConstraintViolation, code="23505")``) and is then
found by :func:`lookup`, exactly or, failing that, by its class (the first two
characters: ``23xxx`` -> ``IntegrityConstraintViolation``), as in PostgreSQL's
errcodes and psycopg's ``errors`` module. No code is ever patched onto an instance.

:func:`to_sql_error` turns any exception into what an ErrorResponse carries; it is
the one place where foreign exceptions (DuckDB, Python's own) are mapped,
and DuckDB's exceptions through the one table :data:`_DUCKDB_RULES`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar

from hati import wording

_BY_CODE: dict[str, type[HatiError]] = {}


class HatiError(Exception):
    """Root of hati's errors. ``sqlstate`` is what the client sees (XX000: internal)."""

    sqlstate: ClassVar[str] = "XX000"

    def __init_subclass__(cls, code: str | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            if code in _BY_CODE:
                raise TypeError(f"SQLSTATE {code} is already {_BY_CODE[code].__name__}")
            cls.sqlstate = code
            _BY_CODE[code] = cls

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        table: str | None = None,
        column: str | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position  # 1-based character in the statement (syntax errors)
        # the error's fields for clients (psycopg's diag.table_name, ...)
        self.table, self.column, self.constraint = table, column, constraint

    def copy(self) -> HatiError:
        """A new instance of the same error (a cached verdict raised again)."""
        return type(self)(
            self.message, detail=self.detail, hint=self.hint, position=self.position,
            table=self.table, column=self.column, constraint=self.constraint,
        )  # fmt: skip


def lookup(code: str) -> type[HatiError]:
    """The class of a SQLSTATE: registered exactly, else its class (``xx000``), else the root."""
    return _BY_CODE.get(code) or _BY_CODE.get(code[:2] + "000") or HatiError


# ---------------------------------------------------------------- classes (first two chars)
class ConnectionException(HatiError, code="08000"):
    pass


class ProtocolViolation(ConnectionException, code="08P01"):
    pass


class FeatureNotSupported(HatiError, code="0A000"):
    pass


class CardinalityViolation(HatiError, code="21000"):
    pass


class DataException(HatiError, code="22000"):
    pass


class StringDataRightTruncation(DataException, code="22001"):
    pass


class NumericValueOutOfRange(DataException, code="22003"):
    pass


class DivisionByZero(DataException, code="22012"):
    pass


class InvalidArgumentForLogarithm(DataException, code="2201E"):
    pass


class InvalidArgumentForWidthBucket(DataException, code="2201G"):
    pass


class InvalidRowCountInLimitClause(DataException, code="2201W"):
    pass


class InvalidArgumentForPower(DataException, code="2201F"):
    pass


class InvalidArgumentForNthValue(DataException, code="22016"):
    pass


class InvalidPrecedingOrFollowingSize(DataException, code="22013"):
    pass


class SequenceGeneratorLimitExceeded(DataException, code="2200H"):
    pass


class InvalidParameter(DataException, code="22023"):
    """invalid_parameter_value: bad branch name, bad strategy, bad resolution."""


class InvalidEscapeSequence(DataException, code="22025"):
    pass


class InvalidRegularExpression(DataException, code="2201B"):
    pass


class NullValueNotAllowed(DataException, code="22004"):
    pass


class ArraySubscriptError(DataException, code="2202E"):
    pass


class InvalidTextRepresentation(DataException, code="22P02"):
    pass


class BadCopyFileFormat(DataException, code="22P04"):
    pass


class IntegrityConstraintViolation(HatiError, code="23000"):
    pass


class NotNullViolation(IntegrityConstraintViolation, code="23502"):
    pass


class ForeignKeyViolation(IntegrityConstraintViolation, code="23503"):
    pass


class UniqueViolation(IntegrityConstraintViolation, code="23505"):
    pass


class CheckViolation(IntegrityConstraintViolation, code="23514"):
    pass


class InvalidTransactionState(HatiError, code="25000"):
    pass


class ActiveSqlTransaction(InvalidTransactionState, code="25001"):
    """A statement that must run outside a transaction block ran inside one."""


class IdleInTransactionSessionTimeout(InvalidTransactionState, code="25P03"):
    """idle_in_transaction_session_timeout ran out: the connection is closed."""


class InFailedTransaction(InvalidTransactionState, code="25P02"):
    pass


class NoActiveSqlTransaction(InvalidTransactionState, code="25P01"):
    pass


class ReadOnlySqlTransaction(InvalidTransactionState, code="25006"):
    """A write in a READ ONLY transaction."""


class InvalidSqlStatementName(HatiError, code="26000"):
    """No prepared statement of that name."""


class InvalidAuthorizationSpecification(HatiError, code="28000"):
    pass


class AuthenticationFailed(InvalidAuthorizationSpecification, code="28P01"):
    pass


class DependentObjectsStillExist(HatiError, code="2BP01"):
    pass


class SqlRoutineException(HatiError, code="2F000"):
    pass


class FunctionExecutedNoReturnStatement(SqlRoutineException, code="2F005"):
    """A PL/pgSQL function reached its end without RETURN."""


class InvalidCursorName(HatiError, code="34000"):
    """No portal of that name."""


class InvalidSavepointSpecification(HatiError, code="3B001"):
    """RELEASE or ROLLBACK TO a savepoint the transaction does not have."""


class InvalidSchemaName(HatiError, code="3F000"):
    pass


class TransactionRollback(HatiError, code="40000"):
    pass


class SerializationFailure(TransactionRollback, code="40001"):
    """A write conflict with another session, or a merge that aborted."""


class DeadlockDetected(TransactionRollback, code="40P01"):
    """Transactions waiting for each other's locks in a cycle."""


class SyntaxErrorOrAccessRuleViolation(HatiError, code="42000"):
    pass


class ReservedName(SyntaxErrorOrAccessRuleViolation, code="42939"):
    pass


class InsufficientPrivilege(SyntaxErrorOrAccessRuleViolation, code="42501"):
    pass


class SyntaxError_(SyntaxErrorOrAccessRuleViolation, code="42601"):  # the builtin has the name
    pass


class UndefinedColumn(SyntaxErrorOrAccessRuleViolation, code="42703"):
    pass


class GroupingError(SyntaxErrorOrAccessRuleViolation, code="42803"):
    pass


class AmbiguousColumn(SyntaxErrorOrAccessRuleViolation, code="42702"):
    pass


class AmbiguousFunction(SyntaxErrorOrAccessRuleViolation, code="42725"):
    pass


class DuplicateColumn(SyntaxErrorOrAccessRuleViolation, code="42701"):
    pass


class UndefinedObject(SyntaxErrorOrAccessRuleViolation, code="42704"):
    """An unknown branch (or type, sequence, index)."""


class InvalidForeignKey(SyntaxErrorOrAccessRuleViolation, code="42830"):
    pass


class DuplicateObject(SyntaxErrorOrAccessRuleViolation, code="42710"):
    pass


class DatatypeMismatch(SyntaxErrorOrAccessRuleViolation, code="42804"):
    pass


class UndefinedFunction(SyntaxErrorOrAccessRuleViolation, code="42883"):
    pass


class DuplicateFunction(SyntaxErrorOrAccessRuleViolation, code="42723"):
    pass


class InvalidFunctionDefinition(SyntaxErrorOrAccessRuleViolation, code="42P13"):
    pass


class UndefinedTable(SyntaxErrorOrAccessRuleViolation, code="42P01"):
    pass


class DuplicatePreparedStatement(SyntaxErrorOrAccessRuleViolation, code="42P05"):
    pass


class DuplicateCursor(SyntaxErrorOrAccessRuleViolation, code="42P03"):
    pass


class DuplicateTable(SyntaxErrorOrAccessRuleViolation, code="42P07"):
    pass


class InvalidTableDefinition(SyntaxErrorOrAccessRuleViolation, code="42P16"):
    pass


class InvalidObjectDefinition(SyntaxErrorOrAccessRuleViolation, code="42P17"):
    pass


class WrongObjectType(SyntaxErrorOrAccessRuleViolation, code="42809"):
    pass


class DuplicateAlias(SyntaxErrorOrAccessRuleViolation, code="42712"):
    pass


class InvalidColumnReference(SyntaxErrorOrAccessRuleViolation, code="42P10"):
    pass


class WindowingError(SyntaxErrorOrAccessRuleViolation, code="42P20"):
    pass


class InvalidRecursion(SyntaxErrorOrAccessRuleViolation, code="42P19"):
    pass


class InsufficientResources(HatiError, code="53000"):
    pass


class OutOfMemory(InsufficientResources, code="53200"):
    pass


class TooManyConnections(InsufficientResources, code="53300"):
    pass


class ProgramLimitExceeded(HatiError, code="54000"):
    pass


class StatementTooComplex(ProgramLimitExceeded, code="54001"):
    pass


class ObjectNotInPrerequisiteState(HatiError, code="55000"):
    pass


class ObjectInUse(ObjectNotInPrerequisiteState, code="55006"):
    pass


class LockNotAvailable(ObjectNotInPrerequisiteState, code="55P03"):
    pass


class CantChangeRuntimeParam(ObjectNotInPrerequisiteState, code="55P02"):
    pass


class OperatorIntervention(HatiError, code="57000"):
    pass


class QueryCanceled(OperatorIntervention, code="57014"):
    pass


class SystemError_(HatiError, code="58000"):  # the builtin has the name
    pass


class IOError_(SystemError_, code="58030"):  # the builtin has the name
    pass


class PlpgsqlError(HatiError, code="P0000"):
    pass


class RaiseException(PlpgsqlError, code="P0001"):
    """RAISE EXCEPTION in a PL/pgSQL function."""


class NoDataFound(PlpgsqlError, code="P0002"):
    pass


class TooManyRows(PlpgsqlError, code="P0003"):
    pass


class AssertFailure(PlpgsqlError, code="P0004"):
    pass


class CaseNotFound(HatiError, code="20000"):
    """A PL/pgSQL CASE without ELSE matched nothing."""


class InternalError(HatiError, code="XX000"):
    pass


# ---------------------------------------------------------------- what the client sees
@dataclass(frozen=True)
class SqlError:
    """What an ErrorResponse carries."""

    sqlstate: str
    message: str
    severity: str = "ERROR"
    detail: str | None = None
    hint: str | None = None
    position: int | None = None
    table: str | None = None  # with schema "public"
    column: str | None = None
    constraint: str | None = None

    def fatal(self) -> SqlError:
        """The same error as a FATAL one (the server closes the connection after it)."""
        return dataclasses.replace(self, severity="FATAL")


# DuckDB exception -> SQLSTATE: the first rule whose class name (None: any) and message
# pattern (None: any) match decides. The one table of its kind.
_NOT_MISSING = r"(?s)^(?!.*(?:does not exist|not found))"
# numeric's NaN and infinities: DuckDB's DECIMAL has none
_NUMERIC_SPECIAL = r'(?i)Could not (?:convert string "\s*[-+]?(?:nan|inf|infinity)\s*"|cast value -?(?:nan|inf)) to DECIMAL'
_NUMERIC_HINT = "hati keeps numeric in DuckDB's DECIMAL, which has no NaN or Infinity; double precision has both."
_DUCKDB_RULES: list[tuple[str | None, re.Pattern[str] | None, str]] = [
    (name, re.compile(pattern) if pattern is not None else None, code)
    for name, pattern, code in [
        (None, r"^[\w ]*Error: interval cannot be 0!", "22023"),  # generate_series' step
        ("CatalogException", r"(?:Table|View) with name \S+ does not exist", "42P01"),
        ("CatalogException", r"Schema with name \S+ does not exist", "3F000"),
        ("CatalogException", r"(?:Type|Sequence|Index) with name \S+ does not exist", "42704"),
        ("CatalogException", r"Function with name", "42883"),
        ("CatalogException", r"^Catalog Error: Type with name .* already exists", "42710"),
        ("CatalogException", r"already exists", "42P07"),
        ("CatalogException", None, "42P01"),
        ("ConstraintException", r"NOT NULL", "23502"),
        ("ConstraintException", r"(?i)foreign key", "23503"),
        ("ConstraintException", r"CHECK", "23514"),
        ("ConstraintException", None, "23505"),
        ("BinderException", _NOT_MISSING + r"(?i:.*syntax)", "42601"),
        ("BinderException", _NOT_MISSING, "42703"),
        (None, r"Conflict on", "40001"),
        ("TransactionException", r"(?i)conflict", "40001"),
        ("SequenceException", r"reached (?:maximum|minimum) value of sequence", "2200H"),
        ("SequenceException", r"is out of bounds for sequence", "22003"),
        ("SequenceException", r"currval: sequence is not yet defined", "55000"),
        ("InvalidInputException", r"lastval is not yet defined in this session", "55000"),
        ("InvalidInputException", r"Division by zero", "22012"),
        ("InvalidInputException", r"cannot be binned into intervals containing", "0A000"),
        ("InvalidInputException", r"stride must be greater than zero", "22008"),
        ("InvalidInputException", r'^[\w ]*Error: relation "[^"]*" does not exist', "42P01"),
        ("InvalidInputException", r"partition constraint|no partition of relation", "23514"),
        ("OutOfRangeException", r"Division by zero", "22012"),
        ("ParserException", None, "42601"),
        ("SyntaxException", None, "42601"),
        ("BinderException", None, "42703"),
        ("ConversionException", _NUMERIC_SPECIAL, "0A000"),
        (
            "ConversionException",
            r"to type DECIMAL\(\d+,\d+\) failed: value is out of range",
            "22003",
        ),
        (
            "ConversionException",
            r'Could not convert string "\s*[-+]?[0-9.]+(?:[eE][-+]?\d+)?\s*" to DECIMAL',
            "22003",
        ),
        (
            "ConversionException",
            r"Could not cast value -?[0-9.]+(?:e[-+]?\d+)? to DECIMAL",
            "22003",
        ),
        ("ConversionException", None, "22P02"),
        ("OutOfRangeException", None, "22003"),
        ("InvalidInputException", None, "22023"),
        ("TypeMismatchException", None, "42804"),
        ("TransactionException", None, "40001"),
        ("InterruptException", None, "57014"),
        ("NotImplementedException", None, "0A000"),
        ("PermissionException", None, "42501"),
        ("DependencyException", None, "2BP01"),
        ("OutOfMemoryException", None, "53200"),
        ("IOException", None, "58030"),
    ]
]
# error('HATI-<sqlstate>: message') in translated SQL (PL/pgSQL's RAISE, for one)
_RAISED = re.compile(r"^HATI-([0-9A-Z]{5}): (.*)", re.S)
# ... a CHECK constraint's error('HATI-...') (a domain's constraint on a column)
_RAISED_IN_CHECK = re.compile(r"\(Error: HATI-([0-9A-Z]{5}): (.*)\)$", re.S)
_RETRY_HINT = "Another session changed the same rows first; retry the transaction."


def duckdb_sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a DuckDB exception (XX000 when no rule matches)."""
    name, text = type(exc).__name__, str(exc)
    for rule_name, pattern, code in _DUCKDB_RULES:
        if (rule_name is None or rule_name == name) and (pattern is None or pattern.search(text)):
            return code
    return "XX000"


def _is_duckdb(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith("duckdb") or module == "_duckdb"


_FROM_PYTHON = re.compile(r"Python exception occurred while executing the UDF: (\w+): (.*)", re.S)


def _raised_in_python(text: str) -> HatiError | None:
    """The hati error a Python function hati registered with DuckDB raised, if any."""
    m = _FROM_PYTHON.search(text)
    if m is None:
        return None
    todo: list[type[HatiError]] = [HatiError]
    while todo:
        cls = todo.pop()
        if cls.__name__ == m.group(1):
            return cls(m.group(2).strip())
        todo.extend(cls.__subclasses__())
    return None


def from_duckdb(exc: BaseException, relation: str | None = None) -> HatiError:
    """The hati error a DuckDB exception stands for (its class found by its SQLSTATE),
    in PostgreSQL's words where ``wording`` knows them (``relation``: the table the
    statement writes)."""
    raised = _raised_in_python(str(exc))
    if raised is not None:
        return raised
    code = duckdb_sqlstate(exc)
    # DuckDB starts messages with '<Kind> Error: '; PostgreSQL clients do not expect it.
    message = re.sub(r"^[A-Za-z ]+ Error: ", "", str(exc), count=1).strip()
    raised_in_sql = _RAISED.match(message) or _RAISED_IN_CHECK.search(message)
    if raised_in_sql is not None:
        return lookup(raised_in_sql.group(1))(raised_in_sql.group(2).strip())
    first, _, rest = message.partition("\n")
    worded = wording.reword(first, rest, relation)
    if worded is not None:
        return lookup(worded.sqlstate or code)(
            worded.message, detail=worded.detail, hint=worded.hint, table=worded.table,
            column=worded.column, constraint=worded.constraint,
        )  # fmt: skip
    hint = _RETRY_HINT if code == "40001" else None
    if code == "0A000" and re.search(_NUMERIC_SPECIAL, first):
        hint = _NUMERIC_HINT
    return lookup(code)(first, detail=wording.strip_excerpt(rest) or None, hint=hint)


def as_hati_error(exc: BaseException, relation: str | None = None) -> HatiError:
    """Any exception as the hati error the client is told about (``relation``: the
    table the statement writes, which some of DuckDB's messages leave out)."""
    if isinstance(exc, HatiError):
        return exc
    if _is_duckdb(exc):
        return from_duckdb(exc, relation)
    if isinstance(exc, RecursionError):  # hostile nesting
        return StatementTooComplex(
            "statement is too complex (nested too deeply)",
            hint="Reduce the nesting of parentheses or subqueries.",
        )
    if isinstance(exc, MemoryError):
        return OutOfMemory("out of memory")
    return InternalError(f"internal error: {type(exc).__name__}: {exc}")


def names_relation(exc: BaseException) -> bool:
    """Is ``exc`` a DuckDB error whose PostgreSQL wording names the statement's table
    (which DuckDB's may leave out)? Then the session converts it knowing the table."""
    names = ("ConstraintException", "CatalogException", "BinderException")
    return _is_duckdb(exc) and type(exc).__name__ in names


def to_sql_error(exc: BaseException) -> SqlError:
    """Map any exception to what the client sees. The only place that does this."""
    err = as_hati_error(exc)
    return SqlError(
        err.sqlstate, err.message, detail=err.detail, hint=err.hint, position=err.position,
        table=err.table, column=err.column, constraint=err.constraint,
    )  # fmt: skip


def sqlstate_of(exc: BaseException) -> str:
    return as_hati_error(exc).sqlstate
