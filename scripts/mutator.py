"""A small, deterministic AST mutator: the mutants of a Python source, one change each.

Package-free (the standard library only), so that ``scripts/mutants.py`` and its tests can load
it by path.  A mutant is a byte range of the source and the text that replaces it: the rest of
the file stays byte for byte, and the change reads as one line (``original -> replacement``,
both as ``ast.unparse`` writes them).  Every mutant compiles; one that would not is dropped.

Operators (``OPERATORS``):

- ``arith``: ``+ <-> -``, ``* -> /``, ``/ -> *``, ``// -> /``, ``** -> *`` (also in ``x op= y``)
- ``compare``: ``< <-> <=``, ``> <-> >=``, ``== <-> !=``, ``is <-> is not``, ``in <-> not in``
- ``boolop``: ``and <-> or``
- ``const``: int ``0 -> 1``, ``1 -> 0`` and ``1 -> 2``, ``n -> n + 1``; float ``0.0 -> 1.0``,
  ``c -> c*(1 + 1e-3)`` and ``c -> -c``
- ``bool``: ``True <-> False`` (outside ``keepdims``)
- ``axis``: ``axis=``/``dim=`` ``0 -> 1``, ``1 -> 0``, ``-1 -> 0``
- ``keepdims``: ``keepdims=``/``keepdim=`` ``True <-> False``
- ``unary``: ``-x -> x``, ``not x -> x``
- ``stmt``: an assignment, augmented assignment or expression statement replaced by ``pass``
- ``return-arg``: ``return f(a, ...) -> return a`` (``f`` a name or ``module.name``)

Not mutated (``EXCLUSIONS`` says why, docs/mutants.md lists them): strings, f-strings and
docstrings; ``raise`` and ``assert`` statements; the test of an ``if`` whose body only raises or
warns (argument guards: their messages and refusals are tests/test_bad_inputs.py's to judge);
calls that check arguments (``check_*``/``_check*``) or warn (a name holding ``warn``), logging,
``print`` and argparse's ``add_argument`` (a command line's text); annotations, decorators,
imports, ``__all__``; ``if __name__ == "__main__"`` and ``if TYPE_CHECKING`` blocks;
``__repr__``/``__str__``.
"""

from __future__ import annotations

import ast
import hashlib
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass

__all__ = ["EXCLUSIONS", "OPERATORS", "Mutant", "NotApplicable", "apply", "mutants", "sample"]

OPERATORS = ("arith", "compare", "boolop", "const", "bool", "axis", "keepdims", "unary", "stmt",
             "return-arg")

EXCLUSIONS = {
    "strings": "string constants, f-strings and docstrings: text, not numerics",
    "raise/assert": "raise and assert statements: what is refused and how it is said",
    "guard tests": "the test of an `if` whose body only raises or warns: argument checks, "
                   "judged by tests/test_bad_inputs.py, not by verify",
    "checks and warnings": "calls to check_*/_check* (argument checks), to names holding "
                           "'warn', to logging/logger, print and add_argument: messages, refusals "
                           "and a command line's text",
    "annotations": "annotations, decorators, imports and __all__: no numerics",
    "blocks": "`if __name__ == '__main__'` and `if TYPE_CHECKING` blocks, __repr__/__str__",
}

_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
          ast.FloorDiv: ast.Div, ast.Pow: ast.Mult}
_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
            ast.NotIn: ast.In}
_BOOLOP = {ast.And: ast.Or, ast.Or: ast.And}
_AXIS_KW = frozenset({"axis", "dim"})
_KEEPDIMS_KW = frozenset({"keepdims", "keepdim"})
_AXIS = {0: 1, 1: 0, -1: 0}
_SKIPPED_FUNCS = frozenset({"__repr__", "__str__"})


class NotApplicable(ValueError):
    """The mutant's range no longer holds its original text (the source changed)."""


@dataclass(frozen=True)
class Mutant:
    """One change: bytes ``start:end`` of ``path``'s UTF-8 source replaced by ``replacement``."""

    path: str
    line: int
    operator: str
    start: int
    end: int
    original: str  # the exact source text of the range
    replacement: str
    before: str  # one-line forms for the report
    after: str

    @property
    def id(self) -> str:
        digest = hashlib.sha1(f"{self.original}\0{self.replacement}".encode()).hexdigest()[:10]
        return f"{self.path}:{self.line}:{self.operator}:{self.start}:{digest}"

    @property
    def diff(self) -> str:
        return f"{self.path}:{self.line} [{self.operator}] {self.before}  ->  {self.after}"

    def to_dict(self) -> dict:
        return {"id": self.id, **asdict(self)}


def apply(source: str, m: Mutant) -> str:
    """``source`` with ``m`` applied; NotApplicable when the range holds other text."""
    raw = source.encode("utf-8")
    if raw[m.start:m.end].decode("utf-8", errors="replace") != m.original:
        raise NotApplicable(f"{m.path}:{m.line}: the source no longer holds {m.original!r}")
    return (raw[:m.start] + m.replacement.encode("utf-8") + raw[m.end:]).decode("utf-8")


def sample(all_mutants: list[Mutant], count: int, seed: int) -> list[Mutant]:
    """``count`` mutants drawn without replacement by ``seed`` (all of them if fewer), in a
    fixed order: the same list and seed give the same sample."""
    ordered = sorted(all_mutants, key=lambda m: m.id)
    return random.Random(seed).sample(ordered, min(count, len(ordered)))


def mutants(source: str, path: str = "<string>") -> list[Mutant]:
    """Every mutant of ``source`` that compiles, in source order."""
    tree = ast.parse(source)
    offsets = _line_offsets(source)
    out: list[Mutant] = []
    seen: set[tuple[int, int, str]] = set()
    for node, op, new in _Walker().run(tree):
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        raw = source.encode("utf-8")
        original = raw[start:end].decode("utf-8")
        before = _one_line(node)
        if isinstance(new, str):  # a statement replaced by text
            replacement, after = new, new
        else:
            after = _one_line(new)
            atomic = isinstance(new, ast.stmt) or _atomic(new)
            replacement = after if atomic else f"({after})"
        if (start, end, replacement) in seen or replacement == original:
            continue
        seen.add((start, end, replacement))
        m = Mutant(path=path, line=node.lineno, operator=op, start=start, end=end,
                   original=original, replacement=replacement, before=before, after=after)
        try:
            compile(apply(source, m), path, "exec")
        except SyntaxError:
            continue  # e.g. a removal that leaves a construct Python refuses: no mutant
        out.append(m)
    return out


def _line_offsets(source: str) -> list[int]:
    """Byte offset of each line's start (ast's col_offset counts UTF-8 bytes)."""
    offsets, pos = [], 0
    for line in source.encode("utf-8").splitlines(keepends=True):
        offsets.append(pos)
        pos += len(line)
    offsets.append(pos)
    return offsets


def _one_line(node: ast.AST) -> str:
    text = ast.unparse(node)
    return " ".join(text.split()) if "\n" in text else text


def _atomic(node: ast.AST) -> bool:
    """A node whose text needs no parentheses wherever the original stood."""
    if isinstance(node, ast.Constant):
        return not (isinstance(node.value, (int, float)) and node.value < 0)
    return isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return f"{base}.{f.attr}"
    return ""


def _plain_function(node: ast.Call) -> bool:
    """``f(...)`` or ``mod.f(...)``: a function of its arguments (not a method of a value)."""
    f = node.func
    return isinstance(f, ast.Name) or (isinstance(f, ast.Attribute)
                                       and isinstance(f.value, ast.Name))


def _excluded_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = _call_name(node)
    last = name.rsplit(".", 1)[-1]
    base = name.split(".", 1)[0] if "." in name else ""
    return (last.startswith(("check_", "_check")) or "warn" in last.lower()
            or last in {"print", "add_argument"}
            or base in {"logging", "logger", "log", "_log", "_logger", "warnings"})


def _only_refuses(body: list[ast.stmt]) -> bool:
    """A body that only raises or warns (an argument guard)."""
    return bool(body) and all(
        isinstance(s, ast.Raise) or (isinstance(s, ast.Expr) and _excluded_call(s.value))
        for s in body)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _skipped_block(node: ast.If) -> bool:
    t = node.test
    if isinstance(t, ast.Name) and t.id == "TYPE_CHECKING":
        return True
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name)
            and t.left.id == "__name__")


class _Walker:
    """Yields (node, operator, replacement node or text) over the mutable parts of a tree."""

    def run(self, tree: ast.Module) -> Iterator[tuple[ast.AST, str, ast.AST | str]]:
        yield from self._body(tree.body, module=True)

    # ---------------------------------------------------------------- statements
    def _body(self, body: list[ast.stmt], module: bool = False) -> Iterator:
        for stmt in body:
            yield from self._stmt(stmt, module)

    def _stmt(self, s: ast.stmt, module: bool) -> Iterator:
        if isinstance(s, (ast.Raise, ast.Assert, ast.Import, ast.ImportFrom, ast.Global,
                          ast.Nonlocal, ast.Pass)) or _is_docstring(s):
            return
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if s.name in _SKIPPED_FUNCS:
                return
            # default values are behaviour; annotations and decorators are not
            yield from self._exprs(s.args.defaults)
            yield from self._exprs(d for d in s.args.kw_defaults if d is not None)
            yield from self._body(s.body)
            return
        if isinstance(s, ast.ClassDef):
            yield from self._body(s.body)
            return
        if module and isinstance(s, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in s.targets):
            return
        if isinstance(s, ast.Expr) and _excluded_call(s.value):
            return
        value = getattr(s, "value", None)
        if isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and _excluded_call(value):
            return
        if isinstance(s, ast.If):
            if _skipped_block(s):
                return
            if not _only_refuses(s.body):
                yield from self._expr(s.test)
            yield from self._body(s.body)
            yield from self._body(s.orelse)
            return
        # the statement itself
        if isinstance(s, (ast.Assign, ast.AugAssign, ast.Expr)) or (
                isinstance(s, ast.AnnAssign) and s.value is not None):
            yield s, "stmt", "pass"
        if isinstance(s, ast.AugAssign) and type(s.op) in _ARITH:
            yield s, "arith", ast.AugAssign(target=s.target, op=_ARITH[type(s.op)](),
                                            value=s.value)
        if (isinstance(s, ast.Return) and isinstance(s.value, ast.Call) and s.value.args
                and _plain_function(s.value) and not isinstance(s.value.args[0], ast.Starred)):
            yield s, "return-arg", f"return {ast.unparse(s.value.args[0])}"
        # its parts
        for field, child in ast.iter_fields(s):
            if field in ("annotation", "type_comment", "targets", "target"):
                continue
            if isinstance(child, list):
                if child and isinstance(child[0], ast.stmt):
                    yield from self._body(child)
                elif child and isinstance(child[0], ast.excepthandler):
                    for h in child:
                        yield from self._body(h.body)
                elif child and isinstance(child[0], ast.withitem):
                    yield from self._exprs(w.context_expr for w in child)
                elif child and isinstance(child[0], ast.match_case):
                    for c in child:
                        yield from self._body(c.body)
                else:
                    yield from self._exprs(c for c in child if isinstance(c, ast.expr))
            elif isinstance(child, ast.expr):
                yield from self._expr(child)

    # ---------------------------------------------------------------- expressions
    def _exprs(self, nodes) -> Iterator:
        for n in nodes:
            yield from self._expr(n)

    def _expr(self, e: ast.expr) -> Iterator:
        if isinstance(e, ast.JoinedStr) or _excluded_call(e):
            return
        if isinstance(e, ast.BinOp) and type(e.op) in _ARITH:
            yield e, "arith", ast.BinOp(left=e.left, op=_ARITH[type(e.op)](), right=e.right)
        elif isinstance(e, ast.Compare):
            for i, op in enumerate(e.ops):
                if type(op) in _COMPARE:
                    ops = list(e.ops)
                    ops[i] = _COMPARE[type(op)]()
                    yield e, "compare", ast.Compare(left=e.left, ops=ops,
                                                    comparators=e.comparators)
        elif isinstance(e, ast.BoolOp):
            yield e, "boolop", ast.BoolOp(op=_BOOLOP[type(e.op)](), values=e.values)
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.Not)):
            if isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
                yield from self._negative_constant(e)
                return
            yield e, "unary", e.operand
        elif isinstance(e, ast.Constant):
            yield from self._constant(e)
        elif isinstance(e, ast.Call):
            yield from self._expr(e.func)
            yield from self._exprs(e.args)
            for kw in e.keywords:
                yield from self._keyword(kw)
            return
        for child in ast.iter_child_nodes(e):
            if isinstance(child, ast.expr):
                yield from self._expr(child)
            elif isinstance(child, ast.comprehension):
                yield from self._expr(child.iter)
                yield from self._exprs(child.ifs)
            elif isinstance(child, ast.keyword):
                yield from self._keyword(child)

    def _keyword(self, kw: ast.keyword) -> Iterator:
        v = kw.value
        if kw.arg in _AXIS_KW and _int_literal(v) in _AXIS:
            yield v, "axis", ast.Constant(_AXIS[_int_literal(v)])
            return
        if kw.arg in _KEEPDIMS_KW and isinstance(v, ast.Constant) and isinstance(v.value, bool):
            yield v, "keepdims", ast.Constant(not v.value)
            return
        yield from self._expr(v)

    def _constant(self, c: ast.Constant) -> Iterator:
        v = c.value
        if isinstance(v, bool):
            yield c, "bool", ast.Constant(not v)
        elif isinstance(v, int):
            for new in ({0: (1,), 1: (0, 2)}.get(v) or (v + 1,)):
                yield c, "const", ast.Constant(new)
        elif isinstance(v, float):
            for new in _float_changes(v):
                yield c, "const", ast.Constant(new)

    def _negative_constant(self, e: ast.UnaryOp) -> Iterator:
        """``-c``: the minus removed (operator unary), and the value changed as a constant."""
        yield e, "unary", e.operand
        v = e.operand.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return
        changes = (-v + 1,) if isinstance(v, int) else tuple(_float_changes(-v))[:1]
        for new in changes:
            yield e, "const", ast.Constant(new)


def _float_changes(v: float) -> tuple[float, ...]:
    if v == 0.0:
        return (1.0,)
    return (v * (1 + 1e-3), -v)


def _int_literal(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    return None

