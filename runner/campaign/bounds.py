"""A Jinja sandbox whose every render is bounded in work and output (docs/campaign-file.md,
"Templates").

`campaign check` runs in a pre-commit hook and under cron: a one-line template must never hang it
or exhaust memory (`{% for a in range(90000) %}{% for b in range(90000) %}`, `{{ '%0999999999d' % 1
}}`, `{{ 'x' | center(900000000) }}`). Jinja's own sandbox guards attribute access and `range`, not
sizes, so each render gets a `Budget`:

- loop iterations, summed over every loop of the render (nested loops multiply, so one total);
- characters produced, charged by everything that can make a long value: `~`, `+`, `*`, `%`,
  str.format, every filter and every method call (by the size of what it returns), and every
  `{{ ... }}` output;
- the operations that can amplify (`center`, `ljust`, `rjust`, `zfill`, `expandtabs`, `replace`,
  `join`, format widths, `**`, `batch`, `slice`, `indent`, `wordwrap`, `tojson`) are checked *before*
  they allocate, from their arguments.

A render over a bound fails with `RenderBound`, which says which bound and why. Nothing a message
can carry is near the bounds: a Telesign request is at most 10 KB.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

MAX_LOOP_ITERATIONS = 10_000
MAX_CHARACTERS = 100_000  # produced in one render, all values together
MAX_INT_BITS = 4_096  # `**` results; a message needs no bigger number

# '%' conversions: the width and precision are what can make a huge string from a tiny one.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")
_AMPLIFYING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"})


class RenderBound(SecurityError):
    """A render went over one of the bounds: the message says which and why."""


class Budget:
    """What one render may still do. `reset` before each render."""

    __slots__ = ("loops", "characters")

    def __init__(self) -> None:
        self.loops = MAX_LOOP_ITERATIONS
        self.characters = MAX_CHARACTERS

    def reset(self) -> None:
        self.loops = MAX_LOOP_ITERATIONS
        self.characters = MAX_CHARACTERS

    def ensure(self, characters: int, what: str) -> None:
        """Refuse before allocating: `what` would make `characters` characters."""
        if characters > self.characters:
            raise RenderBound(
                f"{what} would make {characters:,} characters; a render may produce at most {MAX_CHARACTERS:,}"
            )

    def charge(self, value: Any) -> Any:
        if isinstance(value, (str, list, tuple, dict)):
            self.characters -= len(value)
            if self.characters < 0:
                raise RenderBound(f"the template produces over {MAX_CHARACTERS:,} characters in one render")
        return value

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.loops -= 1
            if self.loops < 0:
                raise RenderBound(
                    f"the template's loops run over {MAX_LOOP_ITERATIONS:,} times in one render (nested loops multiply)"
                )
            yield item


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _check_percent(text: str, budget: Budget) -> None:
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                raise RenderBound("a '%' conversion with a '*' width is not allowed in campaign templates")
            if number is not None:
                budget.ensure(int(number), f"the conversion {match.group(0)[:20]!r}")


def _check_format(text: str, budget: Budget) -> None:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderBound("a nested format width ('{:{w}}') is not allowed in campaign templates")
        for number in _DIGITS.findall(spec):
            budget.ensure(int(number), f"the format {spec[:20]!r}")


def _check_method(name: str, text: str, args: tuple[Any, ...], budget: Budget) -> tuple[Any, ...]:
    """Refuse a str method call that would make a value over the budget; `join`'s argument comes
    back as a list, measured."""
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.ensure(args[0], f"{name}({args[0]})")
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        budget.ensure(len(text) + text.count("\t") * max(size, 0), f"expandtabs({size})")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        budget.ensure(_replaced_length(text, args[0], args[1]), "replace()")
    elif name == "join" and args:
        items = list(budget.iterate(args[0]))
        budget.ensure(sum(map(_length, items)) + len(text) * max(len(items) - 1, 0), "join()")
        return (items, *args[1:])
    elif name == "translate":
        raise RenderBound("str.translate is not allowed in campaign templates")
    return args


def _replaced_length(text: str, old: str, new: str) -> int:
    if len(new) <= len(old):
        return len(text)
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * (len(new) - len(old))


class _Bounded(NodeTransformer):
    """Routes every loop and every `~` of a parsed template through the budget."""

    def __init__(self, name: str | None, filename: str | None):
        self.name, self.filename = name, filename

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        if node.recursive:
            raise jinja2.TemplateSyntaxError(
                "recursive loops are not allowed in campaign templates", node.lineno, self.name, self.filename
            )
        node.iter = nodes.Filter(node.iter, "_bounded_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes, lineno=node.lineno), "_bounded_concat", [], [], None, None, lineno=node.lineno
        )


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no list.extend doubling a list in a loop) with a per-render
    `budget`. Not for use by two threads at once: the budget is the environment's."""

    intercepted_binops = frozenset({"**", "*", "%", "+"})

    def __init__(self, **options: Any):
        self.budget = Budget()
        super().__init__(finalize=self._output, **options)
        self.globals.pop("lipsum", None)  # lipsum(n=10**9): no bound of its own, no use in a message
        self.filters.update({name: self._filter(name, f) for name, f in FILTERS.items()})
        self.filters["_bounded_loop"] = _bounded_loop
        self.filters["_bounded_concat"] = self._concat

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        bounded = _Bounded(name, filename).visit(tree)
        assert isinstance(bounded, nodes.Template)
        return bounded

    def _output(self, value: Any) -> Any:
        budget = self.budget
        if isinstance(value, str):
            budget.characters -= len(value)
            if budget.characters < 0:
                raise RenderBound(f"the template produces over {MAX_CHARACTERS:,} characters in one render")
        elif not isinstance(value, (int, float)):
            budget.charge(str(value))
        return value

    def _concat(self, values: list[Any]) -> str:
        pieces = [str(v) for v in values]
        return str(self.budget.charge("".join(pieces)))

    def _filter(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        check = _FILTER_CHECKS.get(name)
        budget = self.budget

        @wraps(function)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            if check is not None:
                check(budget, _value_arg(function, args), args, kwargs)
            return budget.charge(function(*args, **kwargs))

        return bounded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = self.budget
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(abs(left).bit_length(), 1) * right > MAX_INT_BITS:
                raise RenderBound(f"{left} ** {right} is over {MAX_INT_BITS:,} bits")
        elif operator == "*":
            seq, times = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                budget.ensure(len(seq) * times, f"repeating {len(seq):,} characters {times:,} times")
        elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            budget.ensure(len(left) + len(right), "joining two values")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, budget)
        return budget.charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", None)
        if name in _AMPLIFYING_METHODS and isinstance(getattr(__obj, "__self__", None), str):
            args = _check_method(name, __obj.__self__, args, __self.budget)
        return __self.budget.charge(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        _check_format(value.__self__, self.budget)
        budget = self.budget

        def bounded(*args: Any, **kwargs: Any) -> str:
            return str(budget.charge(wrapper(*args, **kwargs)))

        return bounded


@pass_context
def _bounded_loop(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    # pass_context: Jinja never folds a context filter at compile time, and a loop's iterator
    # must be made at run time, once per render.
    environment = context.environment
    assert isinstance(environment, BoundedSandbox)
    return environment.budget.iterate(iterable)


def _value_arg(function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    # Filters that take the environment or context first have the value second.
    return args[1] if getattr(function, "jinja_pass_arg", None) is not None and len(args) > 1 else args[0]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], function: Callable[..., Any], index: int, name: str) -> Any:
    """The filter argument `name`, the index-th after the value, as passed (None if not)."""
    if name in kwargs:
        return kwargs[name]
    offset = 2 if getattr(function, "jinja_pass_arg", None) is not None else 1
    position = offset + index
    return args[position] if len(args) > position else None


def _filter_check(name: str) -> Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]:
    function = FILTERS[name]

    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        text = value if isinstance(value, str) else ""
        if name == "center":
            width = _arg(args, kwargs, function, 0, "width")
            if isinstance(width, int):
                budget.ensure(width, f"center({width})")
        elif name in ("batch", "slice"):
            count = _arg(args, kwargs, function, 0, "linecount" if name == "batch" else "slices")
            if isinstance(count, int):
                budget.ensure(count, f"{name}({count})")
        elif name == "format" and isinstance(value, str):
            _check_percent(value, budget)
        elif name == "replace":
            old, new = _arg(args, kwargs, function, 0, "old"), _arg(args, kwargs, function, 1, "new")
            if isinstance(old, str) and isinstance(new, str) and isinstance(value, str):
                budget.ensure(_replaced_length(value, old, new), "replace()")
        elif name == "indent":
            width = _arg(args, kwargs, function, 0, "width")
            size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
            budget.ensure(len(text) + (text.count("\n") + 1) * size, f"indent({size})")
        elif name == "wordwrap":
            width = _arg(args, kwargs, function, 0, "width")
            wrap = _arg(args, kwargs, function, 3, "wrapstring")
            lines = len(text) // max(width if isinstance(width, int) else 79, 1) + 1
            budget.ensure(len(text) + lines * (len(wrap) if isinstance(wrap, str) else 1), "wordwrap()")
        elif name == "tojson":
            indent = _arg(args, kwargs, function, 0, "indent")
            if isinstance(indent, int) and indent > 16:
                raise RenderBound(f"tojson(indent={indent}) is over 16")
        elif name == "join" and not isinstance(value, str):
            # measured by the charge on its result; bound the items first
            pass

    return check


_FILTER_CHECKS = {
    name: _filter_check(name)
    for name in ("center", "batch", "slice", "format", "replace", "indent", "wordwrap", "tojson")
}
