"""lme4-style model formulas: ``HAMD17 ~ session * arm + baseline + (session | participant_id)``.

The left side is an instrument key. The right side is split here into the fixed part, which
formulaic parses (``*``, ``:``, ``-``, ``C(x, Treatment("TAU"))``, ``I()``, ``log()``, ``poly()``), and
the random-effect bars, in lme4's syntax:

* ``(terms | group)``: correlated random effects of ``terms`` (formulaic syntax: an intercept unless
  ``0 +`` or ``- 1``) for each level of ``group``;
* ``(terms || group)``: uncorrelated, expanded as lme4's ``expandDoubleVerts`` does, one bar per term
  (``(1 + session || id)`` is ``(1 | id) + (0 + session | id)``);
* ``group`` may be ``a:b`` (the levels of a crossed with b) or ``a/b`` (b nested in a: ``(1 | a) +
  (1 | a:b)``); bars with different groups are crossed or nested as the data make them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArgumentError

__all__ = ["ParsedFormula", "RandomBar", "parse_formula"]


@dataclass(frozen=True)
class RandomBar:
    """One covariance block: the columns of ``terms`` (a formulaic right-hand side) for each level of
    the grouping factor made of ``group`` (one column, or several joined as an interaction)."""

    terms: str
    group: tuple[str, ...]

    @property
    def group_name(self) -> str:
        return ":".join(self.group)


@dataclass(frozen=True)
class ParsedFormula:
    text: str
    response: str
    fixed: str
    bars: tuple[RandomBar, ...]


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ArgumentError(f"formula {text!r}: a ')' without its '('.")
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    if depth != 0 or quote:
        raise ArgumentError(f"formula {text!r}: unbalanced parentheses or quotes.")
    parts.append(text[start:])
    return parts


def _bar_inside(item: str) -> str | None:
    """The inside of ``( ... | ... )`` when ``item`` is exactly one such parenthesis, else None."""
    s = item.strip()
    if not (s.startswith("(") and s.endswith(")")):
        return None
    inner = s[1:-1]
    try:
        if len(_split_top(inner, ")")) > 1:  # "(a) + (b)" is not one parenthesis
            return None
    except ArgumentError:
        return None
    return inner if len(_split_top(inner, "|")) > 1 else None


def _groups(text: str, formula: str) -> list[tuple[str, ...]]:
    """``a`` -> [(a,)]; ``a:b`` -> [(a, b)]; ``a/b`` -> [(a,), (b, a)]; ``a/b/c`` -> three levels (named
    inner first, as lme4 names them: ``therapist_id:trial_id``)."""
    levels = [p.strip() for p in text.split("/")]
    if not levels or any(not lv for lv in levels):
        raise ArgumentError(f"formula {formula!r}: the grouping factor {text.strip()!r} is incomplete.")
    out, prefix = [], ()
    for lv in levels:
        names = tuple(n.strip() for n in lv.split(":"))
        if any(not n.isidentifier() for n in names):
            raise ArgumentError(f"formula {formula!r}: a grouping factor must be column names joined by ':' or '/', "
                                f"not {text.strip()!r}.")
        prefix = names + prefix
        out.append(prefix)
    return out


def _double_vertical(terms: str, formula: str) -> list[str]:
    """lme4's expandDoubleVerts: one bar per term, the intercept (when present) its own bar."""
    from formulaic import Formula

    try:
        parsed = Formula(terms).rhs if "~" in terms else Formula(terms)
    except Exception as exc:  # formulaic's parse errors
        raise ArgumentError(f"formula {formula!r}: cannot read the random terms {terms.strip()!r} ({exc}).") from None
    out = []
    for term in parsed:
        name = str(term)
        out.append("1" if name == "1" else f"0 + {name}")
    return out


def parse_formula(text: str) -> ParsedFormula:
    """Split a formula into response, fixed part and random bars (see the module docstring)."""
    if not isinstance(text, str) or "~" not in text:
        raise ArgumentError(f"a formula needs a response and a '~', as in 'HAMD17 ~ session * arm + "
                            f"(session | participant_id)'; got {text!r}.")
    sides = _split_top(text, "~")
    if len(sides) != 2:
        raise ArgumentError(f"formula {text!r}: one '~' is expected.")
    response, rhs = sides[0].strip(), sides[1].strip()
    if not response:
        raise ArgumentError(f"formula {text!r}: the left side must name the instrument (HAMD17 ~ ...).")
    if not rhs:
        raise ArgumentError(f"formula {text!r}: the right side is empty (use '1' for an intercept only).")
    fixed, bars = [], []
    for item in _split_top(rhs, "+"):
        inner = _bar_inside(item)
        if inner is None:
            if _split_top(item, "|")[1:]:
                raise ArgumentError(f"formula {text!r}: a random term must be in parentheses, as "
                                    f"'(session | participant_id)'; got {item.strip()!r}.")
            fixed.append(item.strip())
            continue
        double = _split_top(inner, "||")
        if len(double) == 2:
            terms, group, correlated = double[0], double[1], False
        else:
            single = _split_top(inner, "|")
            if len(single) != 2:
                raise ArgumentError(f"formula {text!r}: the random term ({inner.strip()}) needs one '|' or '||'.")
            terms, group, correlated = single[0], single[1], True
        if not terms.strip():
            raise ArgumentError(f"formula {text!r}: the random term ({inner.strip()}) has nothing before its bar; "
                                "write (1 | group) for a random intercept.")
        parts = [terms.strip()] if correlated else _double_vertical(terms, text)
        for g in _groups(group, text):
            bars.extend(RandomBar(p, g) for p in parts)
    if any(not f for f in fixed):
        raise ArgumentError(f"formula {text!r}: an empty term (two '+' in a row, or a '+' at an end).")
    return ParsedFormula(text=text.strip(), response=response, fixed=" + ".join(fixed) if fixed else "1",
                         bars=tuple(bars))
