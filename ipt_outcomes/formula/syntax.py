"""The parsed pieces of a formula: arithmetic expressions inside transforms, factors and term sets.

A *factor* is one variable of a term: a column, a transform of columns (``log(session + 1)``,
``I(session ** 2)``, ``poly(session, 2)``, ``scale(age)``, ``center(age)``) or a column read as a
categorical with a chosen reference level (``C(arm, Treatment(reference="TAU"))``). A *term* is a set of
factors multiplied together (``session:arm``). Every factor has a ``label``, the text it is known by in
term names, rendered canonically from the parsed expression (``I(session^2)`` is ``I(session ** 2)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ELEMENTWISE",
    "TRANSFORMS",
    "Binary",
    "Call",
    "Column",
    "Factor",
    "Negate",
    "Number",
    "TermSet",
    "quote_name",
    "render",
]

#: functions applied value by value, allowed inside any transform
ELEMENTWISE = ("log", "log1p", "log2", "log10", "exp", "sqrt", "abs")
#: every function name a formula may call
TRANSFORMS = ("I", *ELEMENTWISE, "poly", "scale", "center", "C")


def quote_name(name: str) -> str:
    """``name`` as the formula language writes it: bare when it reads as a name, else backquoted."""
    plain = bool(name) and (name[0].isalpha() or name[0] in "_.") and all(c.isalnum() or c in "_." for c in name)
    if plain and not (name[0] == "." and len(name) > 1 and name[1].isdigit()):
        return name
    return f"`{name}`"


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Number:
    value: float
    text: str


@dataclass(frozen=True)
class Negate:
    operand: Expression


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / **
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Call:
    func: str  # one of ELEMENTWISE
    arg: Expression


Expression = Column | Number | Negate | Binary | Call

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


def render(node: Expression, parent: int = 0, right: bool = False) -> str:
    """The canonical text of an expression (spaces around operators, parentheses only where needed)."""
    if isinstance(node, Column):
        return quote_name(node.name)
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Call):
        return f"{node.func}({render(node.arg)})"
    if isinstance(node, Negate):
        own = _PRECEDENCE["neg"]
        text = "-" + render(node.operand, own)
    else:
        own = _PRECEDENCE[node.op]
        if node.op == "**":  # right-associative: parenthesise a power on the left
            text = f"{render(node.left, own + 1)} ** {render(node.right, own)}"
        else:
            text = f"{render(node.left, own)} {node.op} {render(node.right, own, right=True)}"
    needs = own < parent or (own == parent and right and own in (1, 2))
    return f"({text})" if needs else text


def columns_of(node: Expression) -> list[str]:
    """The columns an expression reads, in order of first appearance."""
    if isinstance(node, Column):
        return [node.name]
    if isinstance(node, Number):
        return []
    if isinstance(node, Negate | Call):
        return columns_of(node.operand if isinstance(node, Negate) else node.arg)
    return list(dict.fromkeys(columns_of(node.left) + columns_of(node.right)))


@dataclass(frozen=True)
class Factor:
    """One variable of a term. ``kind``: ``column`` (a column as it is), ``I`` (arithmetic), an
    elementwise function name, ``poly``, ``scale``, ``center`` or ``C``."""

    kind: str
    expr: Expression
    degree: int = 0               # poly
    raw: bool = False             # poly(..., raw = TRUE)
    reference: str | None = None  # C(x, Treatment(reference=...))

    @property
    def label(self) -> str:
        if self.kind in ("column", "C"):
            return self.expr.name  # type: ignore[union-attr]
        if self.kind == "poly":
            return f"poly({render(self.expr)}, {self.degree}{', raw = TRUE' if self.raw else ''})"
        return f"{self.kind}({render(self.expr)})"

    @property
    def text(self) -> str:
        """The factor as a formula writes it (a column backquoted when it needs to be)."""
        if self.kind == "column":
            return quote_name(self.expr.name)  # type: ignore[union-attr]
        if self.kind == "C":
            ref = "" if self.reference is None else f", Treatment(reference = {self.reference!r})"
            return f"C({quote_name(self.expr.name)}{ref})"  # type: ignore[union-attr]
        return self.label

    @property
    def columns(self) -> list[str]:
        return columns_of(self.expr)


@dataclass
class TermSet:
    """Terms (tuples of factor labels, in the order their factors first appear in the formula) and the
    intercept: True / False when the formula says so, None when it is silent (an intercept)."""

    terms: list[tuple[str, ...]] = field(default_factory=list)
    intercept: bool | None = None

    @property
    def has_intercept(self) -> bool:
        return self.intercept is not False

    def text(self, factors: dict[str, Factor]) -> str:
        """The term set written out (``1 + session + arm + session:arm``; ``0 + session``)."""
        parts = [":".join(factors[f].text for f in t) for t in self.terms]
        if not self.has_intercept:
            return " + ".join(["0", *parts])
        return " + ".join(parts) if parts and self.intercept is None else " + ".join(["1", *parts])
