"""The subset of Socrata's SoQL that COT clients use: $select, $where, $order, $limit, $offset.

Supported: column names, string literals ('it''s'), numbers, TRUE/FALSE, comparisons (= != <> < <=
> >=), AND / OR / NOT, parentheses, `x BETWEEN a AND b`, `x IN (...)`, `x LIKE 'pat%'`, `x IS [NOT]
NULL`, and the functions upper(), lower() and starts_with(); `$select` takes `*`, columns and
`expr AS alias`; `$order` takes expressions with ASC/DESC. Columns are typed as Socrata types them
(text, number, floating_timestamp): a number column compares numerically, a timestamp column with
a string literal compares as a date ('2025-08-05' or '2025-08-05T00:00:00.000'), a text column
compared with a number is a type mismatch. Anything else is refused with Socrata's error JSON:
unknown column `query.soql.no-such-column`, unknown function `query.soql.no-such-function`, type
mismatch `query.soql.type-mismatch`, unparsable text `query.compiler.malformed`, all HTTP 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

ColumnType = Literal["text", "number", "floating_timestamp"]
SqlValue = str | Decimal | bool | None


class SoqlError(Exception):
    """A query Socrata refuses: HTTP status and the error JSON."""

    def __init__(self, code: str, message: str, data: dict[str, Any], status: int = 400) -> None:
        """Keep the error code, message and data."""
        super().__init__(message)
        self.code = code
        self.status = status
        self.body: dict[str, Any] = {
            "message": f"Query coordinator error: {code}; {message}",
            "errorCode": code,
            "data": data,
        }


def _position(col: int) -> dict[str, int]:
    return {"row": 1, "column": col + 1}


def malformed(text: str, pos: int, expected: str) -> SoqlError:
    """Return the error for text that does not parse."""
    got = text[pos : pos + 12] or "end of input"
    return SoqlError(
        "query.compiler.malformed",
        f"Could not parse SoQL query at line 1 character {pos + 1}: expected {expected}, but got `{got}`",
        {"position": _position(pos)},
    )


# --- tokens ---------------------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\*)"
    r"|(?P<name>:?[A-Za-z_][A-Za-z0-9_]*)|(?P<bad>\S))"
)


@dataclass(frozen=True, slots=True)
class Tok:
    """One token: kind (str, num, op, name, end), text and position."""

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    """Split SoQL text into tokens (malformed on an unterminated string or a stray character)."""
    out: list[Tok] = []
    i = 0
    while i < len(text):
        m = TOKEN.match(text, i)
        if m is None or m.end() == i:
            if text[i:].strip() == "":
                break
            raise malformed(text, i, "a token")
        kind = m.lastgroup or "bad"
        if kind == "bad":
            raise malformed(text, m.start(kind), "an expression")
        out.append(Tok(kind, m.group(kind), m.start(kind)))
        i = m.end()
    out.append(Tok("end", "", len(text)))
    return out


# --- expressions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Typed:
    """A compiled expression: its type and how to evaluate it on a row."""

    type: ColumnType | Literal["boolean", "null"]
    eval: Callable[[Mapping[str, str]], SqlValue]
    name: str  # the output name Socrata would give it in $select


FUNCTIONS = {"upper", "lower", "starts_with"}
KEYWORDS = {"and", "or", "not", "between", "in", "like", "is", "null", "true", "false", "asc", "desc", "as"}


def to_timestamp(text: str) -> str | None:
    """Return a date or datetime literal in Socrata's floating timestamp form, or None if it is not one."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
    return None


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class Parser:
    """A recursive-descent SoQL parser bound to one dataset's columns."""

    def __init__(self, text: str, columns: Mapping[str, ColumnType], dataset: str) -> None:
        """Tokenize `text` for a dataset with `columns`."""
        self.text = text
        self.columns = columns
        self.dataset = dataset
        self.toks = tokenize(text)
        self.i = 0

    # --- token helpers ---------------------------------------------------------------------------

    @property
    def tok(self) -> Tok:
        """Return the current token."""
        return self.toks[self.i]

    def keyword(self, *words: str) -> bool:
        """Consume the current token if it is one of `words` (case-insensitive)."""
        if self.tok.kind == "name" and self.tok.text.lower() in words:
            self.i += 1
            return True
        return False

    def op(self, text: str) -> bool:
        """Consume the current token if it is operator `text`."""
        if self.tok.kind == "op" and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect_op(self, text: str) -> None:
        """Consume operator `text` or fail as malformed."""
        if not self.op(text):
            raise malformed(self.text, self.tok.pos, f"`{text}`")

    def end(self) -> None:
        """Fail unless every token was consumed."""
        if self.tok.kind != "end":
            raise malformed(self.text, self.tok.pos, "end of input")

    # --- grammar --------------------------------------------------------------------------------

    def expression(self) -> Typed:
        """Parse `a OR b`."""
        left = self.conjunction()
        while self.keyword("or"):
            right = self.conjunction()
            left = self._logic("or", left, right)
        return left

    def conjunction(self) -> Typed:
        """Parse `a AND b`."""
        left = self.negation()
        while self.keyword("and"):
            right = self.negation()
            left = self._logic("and", left, right)
        return left

    def negation(self) -> Typed:
        """Parse `NOT a`."""
        if self.keyword("not"):
            pos = self.tok.pos
            inner = self.negation()
            self._boolean(inner, "op$not", pos)
            return Typed("boolean", lambda r: None if (v := inner.eval(r)) is None else not v, "not")
        return self.predicate()

    def predicate(self) -> Typed:
        """Parse a comparison, BETWEEN, IN, LIKE or IS NULL around a value."""
        left = self.value()
        pos = self.tok.pos
        if self.tok.kind == "op" and self.tok.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            op = self.tok.text
            self.i += 1
            right = self.value()
            return self._compare(op, left, right, pos)
        negated = self.keyword("not")
        if self.keyword("between"):
            lo = self.value()
            if not self.keyword("and"):
                raise malformed(self.text, self.tok.pos, "`AND`")
            hi = self.value()
            ge, le = self._compare(">=", left, lo, pos), self._compare("<=", left, hi, pos)
            both = self._logic("and", ge, le)
            return self._maybe_not(both, negated)
        if self.keyword("in"):
            self.expect_op("(")
            options = [self._compare("=", left, self.value(), pos)]
            while self.op(","):
                options.append(self._compare("=", left, self.value(), pos))
            self.expect_op(")")
            any_of = options[0]
            for o in options[1:]:
                any_of = self._logic("or", any_of, o)
            return self._maybe_not(any_of, negated)
        if self.keyword("like"):
            pattern = self.value()
            if left.type != "text" or pattern.type != "text":
                raise self._mismatch("like", left if left.type != "text" else pattern, pos)
            return self._maybe_not(self._like(left, pattern), negated)
        if negated:
            raise malformed(self.text, self.tok.pos, "`BETWEEN`, `IN` or `LIKE`")
        if self.keyword("is"):
            is_not = self.keyword("not")
            if not self.keyword("null"):
                raise malformed(self.text, self.tok.pos, "`NULL`")
            test = Typed("boolean", lambda r: left.eval(r) is None, "is_null")
            return self._maybe_not(test, is_not)
        return left

    def value(self) -> Typed:
        """Parse a literal, a column, a function call or a parenthesised expression."""
        tok = self.tok
        if tok.kind == "str":
            self.i += 1
            text = tok.text[1:-1].replace("''", "'")
            return Typed("text", lambda r: text, "literal")
        if tok.kind == "num":
            self.i += 1
            num = Decimal(tok.text)
            return Typed("number", lambda r: num, "literal")
        if tok.kind == "op" and tok.text == "(":
            self.i += 1
            inner = self.expression()
            self.expect_op(")")
            return inner
        if tok.kind == "name":
            lowered = tok.text.lower()
            if lowered in ("true", "false"):
                self.i += 1
                flag = lowered == "true"
                return Typed("boolean", lambda r: flag, "literal")
            if lowered == "null":
                self.i += 1
                return Typed("null", lambda r: None, "literal")
            if lowered in KEYWORDS:
                raise malformed(self.text, tok.pos, "an expression")
            self.i += 1
            if self.op("("):
                return self._call(lowered, tok.pos)
            return self._column(tok.text, tok.pos)
        raise malformed(self.text, tok.pos, "an expression")

    # --- pieces ---------------------------------------------------------------------------------

    def _column(self, name: str, pos: int) -> Typed:
        ctype = self.columns.get(name)
        if ctype is None:
            raise SoqlError(
                "query.soql.no-such-column",
                f"No such column: {name}",
                {"column": name, "dataset": self.dataset, "position": _position(pos)},
            )

        def get(r: Mapping[str, str]) -> SqlValue:
            raw = r.get(name)
            if raw is None or ctype != "number":
                return raw
            return _number(raw)

        return Typed(ctype, get, name)

    def _call(self, name: str, pos: int) -> Typed:
        args: list[Typed] = []
        if not self.op(")"):
            args.append(self.expression())
            while self.op(","):
                args.append(self.expression())
            self.expect_op(")")
        if name not in FUNCTIONS or (name == "starts_with") != (len(args) == 2) or not args:
            raise SoqlError(
                "query.soql.no-such-function",
                f"No such function '{name}'; arity={len(args)}",
                {"function": name, "arity": len(args), "dataset": self.dataset, "position": _position(pos)},
            )
        for a in args:
            if a.type != "text":
                raise self._mismatch(name, a, pos)
        if name == "starts_with":
            s, prefix = args

            def starts(r: Mapping[str, str]) -> SqlValue:
                a, b = s.eval(r), prefix.eval(r)
                return None if a is None or b is None else str(a).startswith(str(b))

            return Typed("boolean", starts, "starts_with")
        (arg,) = args
        fn = str.upper if name == "upper" else str.lower
        return Typed("text", lambda r: None if (v := arg.eval(r)) is None else fn(str(v)), f"{name}_{arg.name}")

    def _mismatch(self, name: str, got: Typed, pos: int) -> SoqlError:
        return SoqlError(
            "query.soql.type-mismatch",
            f"Type mismatch for {name}, is {got.type}",
            {"name": name, "type": got.type, "dataset": self.dataset, "position": _position(pos)},
        )

    def _boolean(self, t: Typed, name: str, pos: int) -> None:
        if t.type not in ("boolean", "null"):
            raise self._mismatch(name, t, pos)

    def _logic(self, op: str, a: Typed, b: Typed) -> Typed:
        self._boolean(a, f"op${op}", self.tok.pos)
        self._boolean(b, f"op${op}", self.tok.pos)
        if op == "and":
            return Typed("boolean", lambda r: bool(a.eval(r)) and bool(b.eval(r)), "and")
        return Typed("boolean", lambda r: bool(a.eval(r)) or bool(b.eval(r)), "or")

    @staticmethod
    def _maybe_not(t: Typed, negated: bool) -> Typed:
        if not negated:
            return t
        return Typed("boolean", lambda r: None if (v := t.eval(r)) is None else not v, t.name)

    def _coerce(self, target: Typed, other: Typed, name: str, pos: int) -> Typed:
        """Return `other` converted to `target`'s type where SoQL converts it implicitly."""
        if other.type == target.type or other.type == "null":
            return other
        if target.type == "floating_timestamp" and other.type == "text":

            def as_ts(r: Mapping[str, str]) -> SqlValue:
                v = other.eval(r)
                ts = to_timestamp(str(v)) if v is not None else None
                if ts is None:
                    raise self._mismatch(name, other, pos)
                return ts

            return Typed("floating_timestamp", as_ts, other.name)
        if target.type == "number" and other.type == "text":

            def as_num(r: Mapping[str, str]) -> SqlValue:
                v = other.eval(r)
                n = _number(str(v)) if v is not None else None
                if n is None:
                    raise self._mismatch(name, other, pos)
                return n

            return Typed("number", as_num, other.name)
        raise self._mismatch(name, other, pos)

    def _compare(self, op: str, left: Typed, right: Typed, pos: int) -> Typed:
        name = f"op${op}"
        if left.type in ("text", "null") and right.type in ("number", "floating_timestamp"):
            left = self._coerce(right, left, name, pos)
        else:
            right = self._coerce(left, right, name, pos)
        if left.type == "boolean" and op not in ("=", "!=", "<>"):
            raise self._mismatch(name, left, pos)
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<>": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        fn = compare[op]

        def evaluate(r: Mapping[str, str]) -> SqlValue:
            a, b = left.eval(r), right.eval(r)
            return None if a is None or b is None else fn(a, b)

        return Typed("boolean", evaluate, name)

    def _like(self, left: Typed, pattern: Typed) -> Typed:
        def evaluate(r: Mapping[str, str]) -> SqlValue:
            v, p = left.eval(r), pattern.eval(r)
            if v is None or p is None:
                return None
            rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(p))
            return re.fullmatch(rx, str(v), re.DOTALL) is not None

        return Typed("boolean", evaluate, "like")


# --- clauses --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A compiled query over one dataset."""

    select: list[tuple[str, Typed]] | None  # None: every column
    where: Typed | None
    order: list[tuple[Typed, bool]]  # (expression, descending)
    limit: int
    offset: int


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d+", raw.strip()):
        raise SoqlError(
            "query.soql.invalid-number",
            f"Invalid value for {name}: {raw!r} is not a non-negative integer",
            {"parameter": name, "value": raw},
        )
    return int(raw)


KNOWN_PARAMS = {"$select", "$where", "$order", "$limit", "$offset", "$$app_token"}
DEFAULT_LIMIT = 1000


def _equals(column: str, value: str) -> Callable[[Mapping[str, str]], SqlValue]:
    """Return a simple filter `?column=value`: the row's text equals the value."""

    def test(r: Mapping[str, str]) -> SqlValue:
        raw = r.get(column)
        return None if raw is None else raw == value

    return test


def compile_query(params: Mapping[str, str], columns: Mapping[str, ColumnType], dataset: str) -> Query:
    """Compile a request's SoQL parameters (and simple `column=value` filters) against a dataset."""
    unknown = sorted(k for k in params if k.startswith("$") and k not in KNOWN_PARAMS)
    if unknown:
        raise SoqlError(
            "query.soql.unsupported-parameter",
            f"Unsupported parameter {unknown[0]} (this endpoint answers $select, $where, $order, $limit, $offset)",
            {"parameter": unknown[0], "dataset": dataset},
        )
    where: Typed | None = None
    if params.get("$where", "").strip():
        p = Parser(params["$where"], columns, dataset)
        where = p.expression()
        p.end()
        if where.type != "boolean":
            raise p._mismatch("$where", where, 0)
    for key, value in params.items():
        if key.startswith("$"):
            continue
        p = Parser(key, columns, dataset)
        p._column(key, 0)  # an unknown column is refused as in $where
        test = Typed("boolean", _equals(key, value), key)
        where = test if where is None else p._logic("and", where, test)
    select: list[tuple[str, Typed]] | None = None
    if params.get("$select", "").strip() and params["$select"].strip() != "*":
        p = Parser(params["$select"], columns, dataset)
        select = []
        while True:
            if p.op("*"):
                select.extend((name, p._column(name, 0)) for name in columns)
            else:
                expr = p.expression()
                alias = expr.name
                if p.keyword("as"):
                    if p.tok.kind != "name":
                        raise malformed(p.text, p.tok.pos, "an alias")
                    alias = p.tok.text
                    p.i += 1
                select.append((alias, expr))
            if not p.op(","):
                break
        p.end()
    order: list[tuple[Typed, bool]] = []
    if params.get("$order", "").strip():
        p = Parser(params["$order"], columns, dataset)
        while True:
            expr = p.value()
            desc = False
            if p.keyword("desc"):
                desc = True
            else:
                p.keyword("asc")
            order.append((expr, desc))
            if not p.op(","):
                break
        p.end()
    return Query(select, where, order, _int_param(params, "$limit", DEFAULT_LIMIT), _int_param(params, "$offset", 0))


def _sort_key(value: SqlValue) -> tuple[int, Any]:
    # Socrata sorts nulls last in ascending order
    return (1, "") if value is None else (0, value)


def run(query: Query, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Apply a compiled query to rows (each a column -> string dict, nulls absent)."""
    picked = [r for r in rows if query.where is None or query.where.eval(r) is True]
    for expr, desc in reversed(query.order):
        picked.sort(key=lambda r, e=expr: _sort_key(e.eval(r)), reverse=desc)  # type: ignore[misc]
    page = picked[query.offset : query.offset + query.limit]
    if query.select is None:
        return page
    out: list[dict[str, str]] = []
    for r in page:
        row: dict[str, str] = {}
        for alias, expr in query.select:
            v = expr.eval(r)
            if v is not None:
                row[alias] = v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
        out.append(row)
    return out
