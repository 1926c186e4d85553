"""A safe evaluator for `Upstash-Retry-Delay`: a math expression in milliseconds over `retried`.

Documented grammar (docs `qstash/features/retry.mdx`; the qstash SDK docstring of `retry_delay`): numbers,
the variable `retried` (0 before the first retry), `+ - * / %`, parentheses and the functions pow, sqrt,
abs, exp, floor, ceil, round, min, max. The text is parsed with `ast` and only that whitelist is walked;
nothing is ever `eval`-ed. All arithmetic is in floats, so `pow(10, 400)` overflows at once instead of
building a huge integer.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_EXPRESSION_LENGTH = 256
_MAX_DEPTH = 32

_FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, minimum arguments, maximum arguments)
    "pow": (math.pow, 2, 2),
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "exp": (math.exp, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "round": (round, 1, 1),
    "min": (min, 1, 16),
    "max": (max, 1, 16),
}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class RetryDelayExpression:
    """A validated expression; `milliseconds(retried)` evaluates it."""

    def __init__(self, text: str) -> None:
        """Raise ValueError (with a reason) unless `text` uses only the documented grammar."""
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise ValueError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError:
            raise ValueError("not a valid expression") from None
        _check(tree.body, depth=0)
        self.text = text
        self._tree = tree.body

    def milliseconds(self, retried: int) -> float:
        """The delay before the retry that follows `retried` earlier retries; ArithmeticError/ValueError
        if the math fails for this value (overflow, division by zero, sqrt of a negative)."""
        return float(_evaluate(self._tree, float(retried)))


def _check(node: ast.expr, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    match node:
        case ast.Constant(value=bool()):
            raise ValueError("booleans are not numbers here")
        case ast.Constant(value=int() | float()):
            return
        case ast.Name(id="retried"):
            return
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            _check(left, depth + 1)
            _check(right, depth + 1)
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            _check(operand, depth + 1)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            _, least, most = _FUNCTIONS[name]
            if not least <= len(args) <= most:
                raise ValueError(f"{name}() takes {least if least == most else f'{least}-{most}'} arguments")
            for argument in args:
                _check(argument, depth + 1)
        case ast.Name(id=name):
            raise ValueError(f"unknown name {name!r} (only `retried` is defined)")
        case _:
            raise ValueError(f"unsupported syntax: {ast.unparse(node)!r}")


def _evaluate(node: ast.expr, retried: float) -> float:
    # Only nodes `_check` accepted reach here.
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # `_check` allowed int/float only
    if isinstance(node, ast.Name):
        return retried
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, retried), _evaluate(node.right, retried))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, retried))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = _FUNCTIONS[node.func.id][0]
        return float(function(*(_evaluate(argument, retried) for argument in node.args)))
    raise ValueError(f"unsupported syntax: {ast.unparse(node)!r}")
