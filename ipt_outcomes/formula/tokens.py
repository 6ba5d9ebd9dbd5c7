"""The tokens of the formula language: names, backquoted names, numbers, quoted texts and operators.

Everything else (``[``, ``]``, ``{``, ``;``, ``@``, ``!``, ``$``, ``<``, ``>``, ``&``, ``%op%`` other than
``%in%``, ...) is refused here with its position, before anything is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ArgumentError

__all__ = ["MAX_FORMULA_CHARS", "Token", "formula_error", "tokenize"]

#: a formula longer than this is refused before it is read (a model of a trial is a few hundred characters)
MAX_FORMULA_CHARS = 5000

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# longest first: '**' before '*', '||' before '|'
_OPERATORS = ("%in%", "**", "||", "~", "+", "-", "*", "/", "^", ":", "|", "(", ")", ",", "=")


@dataclass(frozen=True)
class Token:
    kind: str      # "name", "quoted_name", "number", "text", "op", "end"
    value: str     # the name, the number as written, the text without its quotes, or the operator
    start: int     # position in the formula (0-based)
    end: int       # position after the token

    def shown(self) -> str:
        if self.kind == "quoted_name":
            return f"`{self.value}`"
        if self.kind == "text":
            return repr(self.value)
        return self.value or "the end of the formula"


def _name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_."


def _name_part(ch: str) -> bool:
    return ch.isalnum() or ch in "_."


def formula_error(formula: str, position: int, message: str) -> ArgumentError:
    """An ArgumentError quoting the formula and pointing at ``position``."""
    near = formula[position:position + 30]
    where = f" at character {position + 1} ({near!r})" if position < len(formula) else " at its end"
    return ArgumentError(f"formula {formula!r}{where}: {message}")


def tokenize(formula: str) -> list[Token]:
    """The tokens of ``formula``, ending with an ``end`` token; ArgumentError on any other character."""
    if len(formula) > MAX_FORMULA_CHARS:
        raise ArgumentError(f"a formula of {len(formula):,} characters is refused: at most {MAX_FORMULA_CHARS:,} are "
                            "read (a trial's model is a few hundred).")
    out: list[Token] = []
    i, n = 0, len(formula)
    while i < n:
        ch = formula[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            close = formula.find("`", i + 1)
            if close < 0:
                raise formula_error(formula, i, "a backquoted name is not closed; write `column name`.")
            if close == i + 1:
                raise formula_error(formula, i, "an empty backquoted name.")
            out.append(Token("quoted_name", formula[i + 1:close], i, close + 1))
            i = close + 1
            continue
        if ch in "'\"":
            close = formula.find(ch, i + 1)
            if close < 0:
                raise formula_error(formula, i, "a quoted text is not closed.")
            out.append(Token("text", formula[i + 1:close], i, close + 1))
            i = close + 1
            continue
        number = _NUMBER.match(formula, i)
        if number and (ch.isdigit() or (ch == "." and number.end() > i + 1)):
            end = number.end()
            if end < n and _name_part(formula[end]):
                raise formula_error(formula, i, "a number runs into a name; names start with a letter, '_' or '.' "
                                                "(backquote any other column name: `2nd visit`).")
            out.append(Token("number", formula[i:end], i, end))
            i = end
            continue
        if _name_start(ch):
            j = i + 1
            while j < n and _name_part(formula[j]):
                j += 1
            out.append(Token("name", formula[i:j], i, j))
            i = j
            continue
        for op in _OPERATORS:
            if formula.startswith(op, i):
                out.append(Token("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            what = "an operator of its own" if ch == "%" else repr(ch)
            raise formula_error(formula, i, f"{what} is not part of the formula language (terms, + - * : / ^ %in%, "
                                            "( ... | group), numbers, column names and the listed transforms).")
    out.append(Token("end", "", n, n))
    return out
