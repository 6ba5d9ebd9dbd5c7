"""The formula language, read by our own recursive-descent parser: a formula is data, never code.

Grammar (lme4 and R's ``terms``; operators from loosest to tightest)::

    formula  := response '~' sum
    sum      := ['-'] product (('+' | '-') product)*
    product  := nest (('*' | '/') nest)*            a*b = a + b + a:b;  a/b = a + a:b
    nest     := interact ('%in%' interact)*          a %in% b = a:b
    interact := power (':' power)*
    power    := primary ['^' integer]                (a + b + c)^2: interactions up to order 2
    primary  := '(' sum ')' | '(' sum ('|' | '||') group ')' | factor | 0 | 1
    group    := name ((':' | '/') name)*             a/b = a + a:b (b nested in a), a:b crossed
    factor   := name | `any name` | transform

Transforms (a closed list, evaluated by :mod:`.transforms`, never by ``eval``): ``I(arith)``,
``log``, ``log1p``, ``log2``, ``log10``, ``exp``, ``sqrt``, ``abs`` of an arithmetic expression,
``poly(arith, k)`` (``raw = TRUE`` for raw powers), ``scale(arith)``, ``center(arith)`` and
``C(column)`` / ``C(column, Treatment(reference = "level"))``. Arithmetic is ``+ - * / ** ^`` on columns,
numbers and elementwise functions. Anything else (attribute access through a call, other function
names, lambdas, subscripts, quoted texts outside ``Treatment``) is refused with an ArgumentError that
names the offending text. A name with dots (``bdi.pre``) is a column name, as in R.

Bounds, refused before any data are touched: at most :data:`MAX_TERMS` terms in the fixed part or
one random term, interactions of at most :data:`MAX_ORDER` factors, parentheses nested at most
:data:`MAX_DEPTH` deep and formulas of at most :data:`~.tokens.MAX_FORMULA_CHARS` characters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ArgumentError
from .syntax import ELEMENTWISE, TRANSFORMS, Binary, Call, Column, Expression, Factor, Negate, Number, TermSet
from .terms import add, by_degree, colon, nested, power_of, remove, star
from .tokens import Token, formula_error, tokenize

__all__ = ["COVARIANCES", "MAX_DEPTH", "MAX_ORDER", "MAX_TERMS", "CovarianceTerm", "ParsedFormula", "RandomBar",
           "parse_formula"]

#: most terms of the fixed part (after expanding ``*``, ``/`` and ``^``) or of one random term
MAX_TERMS = 256
#: most factors in one interaction (``a:b:c:d:e:f`` is order 6)
MAX_ORDER = 6
#: deepest nesting of parentheses
MAX_DEPTH = 40


@dataclass(frozen=True)
class RandomBar:
    """One covariance block: the columns of ``terms`` for each level of the grouping factor made of
    ``group`` (one column, or several joined as an interaction)."""

    terms: str
    group: tuple[str, ...]
    spec: TermSet = field(default_factory=TermSet, compare=False, repr=False)

    @property
    def group_name(self) -> str:
        return ":".join(self.group)


@dataclass(frozen=True)
class ParsedFormula:
    text: str
    response: str
    fixed: str                                          # the fixed part as written
    bars: tuple[RandomBar, ...]
    fixed_terms: TermSet = field(default_factory=TermSet, compare=False, repr=False)
    factors: dict[str, Factor] = field(default_factory=dict, compare=False, repr=False)
    covariance: CovarianceTerm | None = field(default=None, compare=False, repr=False)

    def factors_of(self, terms: TermSet) -> list[Factor]:
        """The factors ``terms`` use, in order of first appearance."""
        labels = dict.fromkeys(label for term in terms.terms for label in term)
        return [self.factors[label] for label in labels]

    @property
    def fixed_variables(self) -> list[str]:
        """The columns the fixed part reads, in order of first appearance."""
        return list(dict.fromkeys(c for f in self.factors_of(self.fixed_terms) for c in f.columns))

    @property
    def variables(self) -> list[str]:
        """Every column the right side reads (fixed part, random terms and grouping factors)."""
        out = dict.fromkeys(self.fixed_variables)
        for bar in self.bars:
            out.update(dict.fromkeys(c for f in self.factors_of(bar.spec) for c in f.columns))
            out.update(dict.fromkeys(bar.group))
        if self.covariance is not None:
            c = self.covariance
            out.update(dict.fromkeys([c.time, *([c.group] if c.group else []), c.subject]))
        return list(out)


#: the mmrm package's residual covariance terms (``us(VISIT | PATIENT)``), and SAS's spatial structures
COVARIANCES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh", "sp_exp", "sp_gau", "sp_pow")


@dataclass(frozen=True)
class CovarianceTerm:
    """An MMRM's residual covariance: ``structure(time | subject)`` or ``structure(time | group / subject)``
    (one covariance per level of ``group``). ``time`` is the visit (categorical) or, for the spatial
    structures, the assessment time (a number)."""

    structure: str
    time: str
    subject: str
    group: str | None = None
    text: str = ""

    @property
    def spatial(self) -> bool:
        return self.structure.startswith("sp_")


class _Bar:
    """A random term met while reading a sum (only allowed as a summand of the right side)."""

    def __init__(self, terms: TermSet, group: list[tuple[str, ...]], correlated: bool, start: int) -> None:
        self.terms, self.group, self.correlated, self.start = terms, group, correlated, start


class _Cov:
    """A covariance term met while reading a sum (only allowed as a summand of the right side)."""

    def __init__(self, term: CovarianceTerm, start: int) -> None:
        self.term, self.start = term, start


class _Parser:
    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.tokens = tokenize(formula)
        self.i = 0
        self.depth = 0
        self.factors: dict[str, Factor] = {}
        self.order: dict[str, int] = {}

    # -- token helpers -------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, op: str, why: str) -> Token:
        if not self.at(op):
            raise self.error(self.tok, why)
        return self.take()

    def error(self, token: Token, message: str) -> ArgumentError:
        return formula_error(self.formula, token.start, message)

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(token, f"parentheses nested more than {MAX_DEPTH} deep.")

    # -- the formula ---------------------------------------------------------------------------------
    def formula_parts(self) -> tuple[str, TermSet, list[_Bar | _Cov], str]:
        first = self.tok
        if first.kind not in ("name", "quoted_name"):
            if self.at("~"):
                raise ArgumentError(f"formula {self.formula!r}: the left side must name the outcome (an instrument "
                                    "such as HAMD17, or a column).")
            raise self.error(first, "the left side must be one column or instrument name (backquote any other "
                                    "name: `PHQ-9 total`); transforms of the outcome are not read.")
        self.take()
        if not self.at("~"):
            raise self.error(self.tok, "one name, then '~', is expected on the left side.")
        self.take()
        if self.tok.kind == "end":
            raise ArgumentError(f"formula {self.formula!r}: the right side is empty (use '1' for an intercept only).")
        terms, bars, pieces = self.sum(top=True)
        if self.at("|", "||"):
            raise self.error(self.tok, "a random term must be in parentheses, as '(session | participant_id)'.")
        if self.at(")"):
            raise self.error(self.tok, "a ')' without its '(' (unbalanced parentheses).")
        if self.tok.kind != "end":
            raise self.error(self.tok, "an operator is expected here.")
        return first.value, terms, bars, pieces

    def sum(self, top: bool = False) -> tuple[TermSet, list[_Bar | _Cov], str]:
        bars: list[_Bar | _Cov] = []
        pieces: list[str] = []
        sign = "+"
        if self.at("-"):
            sign = self.take().value
        elif self.at("+"):
            raise self.error(self.tok, "an empty term (two '+' in a row, or a '+' at an end).")
        total = TermSet()
        while True:
            start = self.tok
            item = self.product()
            text = self.formula[start.start:self.tokens[self.i - 1].end]
            if isinstance(item, _Bar | _Cov):
                what = "a random term ( ... | group)" if isinstance(item, _Bar) else "a covariance term"
                if not top:
                    raise self.error(start, f"{what} may only be added to the right side of the formula, not placed "
                                            "inside another term.")
                if sign == "-":
                    raise self.error(start, f"{what} cannot be removed with '-'.")
                bars.append(item)
            else:
                total = add(total, item) if sign == "+" else remove(total, item)
                pieces.append(text if sign == "+" else f"- {text}")
            if not self.at("+", "-"):
                break
            sign = self.take().value
            if self.at("+", "-", ")") or self.tok.kind == "end":
                raise self.error(self.tok, "an empty term (two '+' in a row, or a '+' at an end).")
        fixed = " + ".join(pieces).replace("+ - ", "- ")
        return total, bars, fixed

    def product(self) -> TermSet | _Bar | _Cov:
        left = self.nest()
        while self.at("*", "/"):
            op = self.take()
            right = self.nest()
            left, right = self.no_bar(left, op), self.no_bar(right, op)
            left = self.limited(star(left, right, self.order) if op.value == "*" else nested(left, right, self.order), op)
        return left

    def nest(self) -> TermSet | _Bar | _Cov:
        left = self.interact()
        while self.at("%in%"):
            op = self.take()
            right = self.no_bar(self.interact(), op)
            left = self.limited(colon(self.no_bar(left, op), right, self.order), op)
        return left

    def interact(self) -> TermSet | _Bar | _Cov:
        left = self.power()
        while self.at(":"):
            op = self.take()
            right = self.no_bar(self.power(), op)
            left = self.limited(colon(self.no_bar(left, op), right, self.order), op)
        return left

    def power(self) -> TermSet | _Bar | _Cov:
        base = self.primary()
        if self.at("^"):
            op = self.take()
            base = self.no_bar(base, op)
            k = self.tok
            if k.kind != "number" or not k.value.isdigit() or int(k.value) < 1:
                raise self.error(k, "'^' takes a whole number of at least 1: (a + b + c)^2.")
            self.take()
            n, order = len(base.terms), min(int(k.value), len(base.terms))
            count = sum(math.comb(n, r) for r in range(1, order + 1))
            if count > MAX_TERMS:
                raise self.error(op, f"expands to {count:,} terms; at most {MAX_TERMS} are allowed.")
            base = self.limited(power_of(base, order, self.order), op)
        return base

    def primary(self) -> TermSet | _Bar | _Cov:
        t = self.tok
        if self.at("("):
            self.take()
            self.enter(t)
            if self.at("|", "||"):
                raise self.error(self.tok, "the random term has nothing before its bar; write (1 | group) for a random "
                                           "intercept.")
            inner, bars, _ = self.sum()
            if bars:
                raise self.error(t, "a random term inside parentheses of another term.")
            if self.at("|", "||"):
                bar = self.take()
                group = self.group(bar)
                if self.tok.kind == "end":
                    raise self.error(t, "unbalanced parentheses: this '(' is not closed.")
                if not self.at(")"):
                    raise self.error(self.tok, "a grouping factor is column names joined by ':' or '/', then ')'.")
                self.take()
                self.depth -= 1
                return _Bar(inner, group, bar.value == "|", t.start)
            if self.tok.kind == "end":
                raise self.error(t, "unbalanced parentheses: this '(' is not closed.")
            self.expect(")", "a ')' is expected here.")
            self.depth -= 1
            return inner
        if t.kind == "number":
            self.take()
            if t.value in ("0", "1"):
                return TermSet([], t.value == "1")
            raise self.error(t, f"the number {t.value} is not a term; only 1 (an intercept) and 0 (none) are, and "
                                "numbers go inside a transform: I(session + 1).")
        if t.kind == "name" and t.value in COVARIANCES and self.peek().kind == "op" and self.peek().value == "(":
            return self.covariance()
        if t.kind in ("name", "quoted_name"):
            factor = self.factor()
            return TermSet([(self.register(factor, t),)], None)
        if t.kind == "text":
            raise self.error(t, f"the quoted text {t.shown()} is not a term; write a column name (backquote any name: "
                                f"`{t.value}`).")
        if t.kind == "end" or self.at("+", "-"):
            raise self.error(t, "an empty term (two '+' in a row, or a '+' at an end).")
        if self.at(")"):
            raise self.error(t, "an empty term before ')'.")
        raise self.error(t, f"{t.shown()!r} cannot start a term.")

    def covariance(self) -> _Cov:
        """``structure(time | subject)`` or ``structure(time | group / subject)``."""
        name = self.take()
        open_ = self.take()
        self.enter(open_)
        names: list[str] = []
        for expected in ("time", "bar", "subject"):
            t = self.tok
            if expected == "bar":
                if not self.at("|"):
                    what = "one time variable" if name.value.startswith("sp_") else "one visit variable"
                    raise self.error(t, f"{name.value}() takes {what}, then '|' and the subject: "
                                        f"{name.value}(VISIT | PATIENT).")
                self.take()
                continue
            if t.kind not in ("name", "quoted_name") or (self.peek().kind == "op" and self.peek().value == "("):
                raise self.error(t, f"{name.value}() takes column names: {name.value}(VISIT | PATIENT) or "
                                    f"{name.value}(VISIT | THERAPY / PATIENT).")
            names.append(self.column_name(self.take()))
        group = None
        if self.at("/"):
            self.take()
            t = self.tok
            if t.kind not in ("name", "quoted_name"):
                raise self.error(t, f"{name.value}(VISIT | GROUP / SUBJECT): the subject column is expected here.")
            group, names[1] = names[1], self.column_name(self.take())
        if not self.at(")"):
            raise self.error(self.tok, f"{name.value}(VISIT | SUBJECT) or {name.value}(VISIT | GROUP / SUBJECT); a ')' "
                                       "is expected here.")
        close = self.take()
        self.depth -= 1
        term = CovarianceTerm(name.value, names[0], names[1], group, self.formula[name.start:close.end])
        return _Cov(term, name.start)

    def group(self, bar: Token) -> list[tuple[str, ...]]:
        levels: list[list[str]] = [[]]
        while True:
            t = self.tok
            if t.kind not in ("name", "quoted_name"):
                raise self.error(t, "the grouping factor after the bar must be column names joined by ':' or '/' "
                                    "(participant_id, site/therapist_id).")
            if self.peek().kind == "op" and self.peek().value == "(":
                raise self.error(t, "the grouping factor must be a column, not a call.")
            levels[-1].append(self.column_name(self.take()))
            if self.at(":"):
                self.take()
            elif self.at("/"):
                self.take()
                levels.append([])
            else:
                break
        out: list[tuple[str, ...]] = []
        prefix: tuple[str, ...] = ()
        for names in levels:
            prefix = tuple(names) + prefix
            out.append(prefix)
        return out

    def no_bar(self, item: TermSet | _Bar | _Cov, op: Token) -> TermSet:
        if isinstance(item, _Bar | _Cov):
            what = "a random term ( ... | group)" if isinstance(item, _Bar) else "a covariance term"
            raise self.error(op, f"{what} cannot be combined with other terms by '{op.value}'; add it to the "
                                 "formula with '+'.")
        if item.intercept is not None and not item.terms:
            raise self.error(op, "0 and 1 can only be added or removed (+ 1, - 1, 0 +), not combined with "
                                 f"'{op.value}'.")
        return item

    def limited(self, terms: TermSet, op: Token) -> TermSet:
        if len(terms.terms) > MAX_TERMS:
            raise self.error(op, f"expands to {len(terms.terms):,} terms; at most {MAX_TERMS} are allowed.")
        for term in terms.terms:
            if len(term) > MAX_ORDER:
                raise self.error(op, f"an interaction of {len(term)} factors ({':'.join(term)}); at most {MAX_ORDER} "
                                     "are allowed.")
        return terms

    # -- factors and transforms ----------------------------------------------------------------------
    def register(self, factor: Factor, token: Token) -> str:
        label = factor.label
        known = self.factors.get(label)
        if known is not None and {known.kind, factor.kind} <= {"column", "C"} and known != factor:
            # C(arm, Treatment("TAU")) and arm are one variable: categorical everywhere, with that reference
            refs = {f.reference for f in (known, factor) if f.kind == "C"} - {None}
            if len(refs) <= 1:
                factor = Factor("C", factor.expr, reference=next(iter(refs), None))
                known = factor
        if known is not None and known != factor:
            raise self.error(token, f"{label!r} is used in two ways ({known.text} and {factor.text}); use one, or give "
                                    "the second its own column.")
        self.factors[label] = factor
        self.order.setdefault(label, len(self.order))
        return label

    def column_name(self, t: Token) -> str:
        """A name token as a column name; a dotted name reaching for Python attributes is refused."""
        if t.kind == "name" and any(part.startswith("__") for part in t.value.split(".")):
            raise self.error(t, f"{t.value!r} reads like attribute access, which is not part of the formula language; "
                                f"backquote a column of that name: `{t.value}`.")
        return t.value

    def factor(self) -> Factor:
        t = self.take()
        if not (self.at("(")):
            return Factor("column", Column(self.column_name(t)))
        if t.kind == "quoted_name" or t.value not in TRANSFORMS:
            raise self.error(t, f"{t.shown()}(...) is not a transform of the formula language; transforms: "
                                f"{', '.join(TRANSFORMS)}.")
        open_ = self.take()
        self.enter(open_)
        func = t.value
        if func == "C":
            factor = self.categorical(t)
        elif func == "poly":
            expr = self.arith()
            factor = self.poly_options(t, expr)
        else:
            expr = self.arith()
            factor = Factor(func, expr)
        if not self.at(")"):
            raise self.error(self.tok, f"{func}() takes {_ARGUMENTS[func]}; a ')' is expected here.")
        self.take()
        self.depth -= 1
        return factor

    def categorical(self, func: Token) -> Factor:
        t = self.tok
        if t.kind not in ("name", "quoted_name") or (self.peek().kind == "op" and self.peek().value == "("):
            raise self.error(t, "C() takes a column name: C(arm) or C(arm, Treatment(reference = \"TAU\")).")
        self.column_name(self.take())
        reference = None
        if self.at(","):
            self.take()
            c = self.tok
            if c.kind != "name" or c.value not in ("Treatment", "contr.treatment"):
                raise self.error(c, "the contrast of C() must be Treatment(reference = \"level\").")
            self.take()
            if self.at("("):
                open_ = self.take()
                self.enter(open_)
                if self.tok.kind == "name" and self.tok.value in ("reference", "base") and self.peek().value == "=":
                    self.take()
                    self.take()
                value = self.tok
                if value.kind not in ("text", "number"):
                    raise self.error(value, "the reference level is a quoted text or a number: "
                                            "Treatment(reference = \"TAU\").")
                self.take()
                reference = value.value
                self.expect(")", "Treatment() takes one reference level; a ')' is expected here.")
                self.depth -= 1
        return Factor("C", Column(t.value), reference=reference)

    def poly_options(self, func: Token, expr: Expression) -> Factor:
        degree, raw = None, False
        while self.at(","):
            self.take()
            name = None
            if self.tok.kind == "name" and self.peek().kind == "op" and self.peek().value == "=":
                name = self.take().value
                self.take()
            value = self.tok
            if name in (None, "degree") and degree is None:
                if value.kind != "number" or not value.value.isdigit() or int(value.value) < 1:
                    raise self.error(value, "the degree of poly() is a whole number of at least 1: poly(session, 2).")
                degree = int(self.take().value)
            elif name == "raw":
                if value.kind != "name" or value.value not in ("TRUE", "FALSE", "True", "False", "T", "F"):
                    raise self.error(value, "raw = TRUE or raw = FALSE.")
                raw = self.take().value in ("TRUE", "True", "T")
            else:
                raise self.error(value, "poly() takes a variable, a degree and raw = TRUE/FALSE.")
        if degree is None:
            raise self.error(self.tok, "poly() needs its degree: poly(session, 2).")
        if degree > 10:
            raise self.error(func, f"poly() of degree {degree}; at most 10.")
        return Factor("poly", expr, degree=degree, raw=raw)

    def arith(self) -> Expression:
        left = self.arith_term()
        while self.at("+", "-"):
            op = self.take().value
            left = Binary(op, left, self.arith_term())
        return left

    def arith_term(self) -> Expression:
        left = self.arith_unary()
        while self.at("*", "/"):
            op = self.take().value
            left = Binary(op, left, self.arith_unary())
        return left

    def arith_unary(self) -> Expression:
        if self.at("-"):
            self.take()
            return Negate(self.arith_unary())
        if self.at("+"):
            self.take()
            return self.arith_unary()
        return self.arithpower_of()

    def arithpower_of(self) -> Expression:
        base = self.arith_atom()
        if self.at("**", "^"):
            self.take()
            return Binary("**", base, self.arith_unary())
        return base

    def arith_atom(self) -> Expression:
        t = self.tok
        if t.kind == "number":
            self.take()
            value = float(t.value)
            if not math.isfinite(value):
                raise self.error(t, f"{t.value} is not a finite number.")
            return Number(value, t.value)
        if t.kind in ("name", "quoted_name"):
            self.take()
            if self.at("("):
                if t.kind == "name" and t.value in ELEMENTWISE:
                    open_ = self.take()
                    self.enter(open_)
                    arg = self.arith()
                    self.expect(")", f"{t.value}() takes one expression; a ')' is expected here.")
                    self.depth -= 1
                    return Call(t.value, arg)
                allowed = ", ".join(ELEMENTWISE)
                raise self.error(t, f"{t.shown()}(...) cannot be called inside a transform; only {allowed} can.")
            return Column(self.column_name(t))
        if self.at("("):
            self.take()
            self.enter(t)
            inner = self.arith()
            self.expect(")", "a ')' is expected here.")
            self.depth -= 1
            return inner
        if t.kind == "text":
            raise self.error(t, f"the quoted text {t.shown()} is not a number or a column (backquote a column name: "
                                f"`{t.value}`).")
        raise self.error(t, f"{t.shown()!r} is not allowed in arithmetic (numbers, columns, + - * / ** and "
                            f"{', '.join(ELEMENTWISE)}).")


_ARGUMENTS = {"I": "one arithmetic expression", "poly": "a variable and a degree", "scale": "one expression",
              "center": "one expression", "C": "a column and a contrast",
              **{f: "one expression" for f in ELEMENTWISE}}


def parse_formula(text: str) -> ParsedFormula:
    """Read ``text`` (see the module docstring); ArgumentError naming the offending text otherwise."""
    if not isinstance(text, str) or "~" not in text:
        raise ArgumentError(f"a formula needs a response and a '~', as in 'HAMD17 ~ session * arm + "
                            f"(session | participant_id)'; got {text!r}.")
    parser = _Parser(text)
    response, terms, items, fixed = parser.formula_parts()
    factors = parser.factors
    covariances = [item for item in items if isinstance(item, _Cov)]
    bars = [item for item in items if isinstance(item, _Bar)]
    random: list[RandomBar] = []
    for bar in bars:
        if not bar.terms.terms and not bar.terms.has_intercept:
            raise formula_error(text, bar.start, "the random term has no column (0 and nothing else before the bar).")
        if bar.correlated:
            parts = [by_degree(bar.terms)]
        else:  # lme4's expandDoubleVerts: one bar per term, the intercept (when present) its own bar
            parts = ([TermSet([], True)] if bar.terms.has_intercept else []) + [TermSet([t], False)
                                                                               for t in by_degree(bar.terms).terms]
        for group in bar.group:
            random.extend(RandomBar(p.text(factors), group, p) for p in parts)
    if len(covariances) > 1:
        raise formula_error(text, covariances[1].start, "a second covariance term; an MMRM has one residual "
                                                        "covariance (per group with STRUCTURE(VISIT | GROUP / SUBJECT)).")
    if covariances and random:
        raise formula_error(text, covariances[0].start, "a covariance term and a random term ( ... | group) together; "
                                                        "an MMRM models the covariance of the residuals only (as the "
                                                        "mmrm package): drop one.")
    fixed_terms = by_degree(terms)
    return ParsedFormula(text=text.strip(), response=response, fixed=fixed or "1", bars=tuple(random),
                         fixed_terms=fixed_terms, factors=dict(factors),
                         covariance=covariances[0].term if covariances else None)
