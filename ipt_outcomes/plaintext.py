"""Text from the data, shown as text: control characters become visible escapes, never obeyed.

A participant id or arm name may carry ANSI escape sequences (retitle the terminal, clear the
screen, hide lines), carriage returns (overwrite a line) or bidirectional overrides (reorder what is
shown). The terminal (:mod:`ipt_outcomes.cli.terminal`), the report page, the figures and the Word
document all show such text through :func:`printable`.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls except tab and newline, DEL, C1 controls, bidirectional marks, embeddings, overrides, isolates,
# lone surrogates and the two non-characters XML refuses (a Word document cannot hold them)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return repr(char)[1:-1] if ord(char) < 0x100 else f"\\u{ord(char):04x}"
