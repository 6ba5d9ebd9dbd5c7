"""Text from the data reaches the terminal as text: control characters are shown, never obeyed.

A participant id or arm name may carry ANSI escape sequences (retitle the terminal, clear the
screen, hide lines), carriage returns (overwrite a line) or bidirectional overrides (reorder what
is shown). While the command line runs, standard output and error pass through :class:`Printable`,
which writes every such character as a visible escape (``\\x1b``). The progress display, whose
control sequences are the toolkit's own and carry no data, writes to :func:`progress_stream`.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from ..plaintext import printable

__all__ = ["Printable", "printable", "progress_stream"]


class Printable(io.TextIOBase):
    """A text stream that writes through :func:`printable`."""

    def __init__(self, stream: TextIO) -> None:
        self.unfiltered = stream

    def write(self, text: str) -> int:
        self.unfiltered.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.unfiltered.flush()

    def isatty(self) -> bool:
        return self.unfiltered.isatty()

    def fileno(self) -> int:
        return self.unfiltered.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.unfiltered, "encoding", "utf-8")


def progress_stream() -> TextIO:
    """Where a progress bar draws: the terminal itself (its cursor codes are ours, not data's)."""
    return getattr(sys.stderr, "unfiltered", sys.stderr)
