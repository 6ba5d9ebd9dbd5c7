"""Write figures to files: interactive HTML (offline, plotly.js embedded) or static PNG/SVG/PDF.

Static images are drawn by kaleido in a headless Chrome or Chromium; none is downloaded. Install
one (Debian: ``apt-get install chromium``) or point ``BROWSER_PATH`` at it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import plotly.graph_objects as go

from ..errors import AnalysisError, ArgumentError, ArgumentTypeError
from ..io.output import atomic_output, check_output

__all__ = ["ATTEMPTS", "STATIC_FORMATS", "save_figure", "static_export_available", "static_image"]

STATIC_FORMATS = ("png", "svg", "pdf")


def static_export_available() -> bool:
    """True when kaleido can find a Chrome or Chromium to draw static images with."""
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:
        return False
    try:
        return Chromium.find_browser(skip_local=False) is not None
    except (RuntimeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def _quiet_browser() -> Iterator[None]:
    """Keep the browser driver's log off the user's terminal while a figure is drawn: choreographer
    logs a full traceback when Chromium writes a line that is not JSON and then carries on. A real
    failure still raises, and :func:`save_figure` reports it in one line."""
    loggers = [logging.getLogger(name) for name in ("choreographer", "kaleido", "logistro")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def save_figure(fig: go.Figure, path: str | Path, format: str | None = None, *, width: int = 1000,
                height: int = 600, scale: float = 2.0, force: bool = False,
                inputs: Iterable[str | Path | None] = ()) -> Path:
    """Write ``fig``; the format comes from ``format`` or the file suffix (html, png, svg, pdf). An
    existing file is replaced only with ``force``, an input never (:mod:`ipt_outcomes.io.output`)."""
    if not isinstance(fig, go.Figure):
        raise ArgumentTypeError(f"save_figure() needs a plotly Figure, not {type(fig).__name__}.")
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt == "html":
        with atomic_output(p, force=force, inputs=inputs, what="figure") as tmp:
            fig.write_html(tmp, include_plotlyjs=True, full_html=True)
        return p
    if fmt not in STATIC_FORMATS:
        raise ArgumentError(f"{p}: format {fmt!r} is not supported; use html, png, svg or pdf.")
    check_output(p, force=force, inputs=inputs, what="figure")
    if not static_export_available():
        raise AnalysisError("static figures (png, svg, pdf) need Chrome or Chromium, and none was found: install "
                            "one (Debian/Ubuntu: apt-get install chromium) or set BROWSER_PATH to its executable; "
                            "interactive HTML figures work without it.")
    image = static_image(fig, fmt, width=width, height=height, scale=scale, name=str(p))
    with atomic_output(p, force=force, inputs=inputs, what="figure") as tmp:
        tmp.write_bytes(image)
    return p


#: attempts to draw one figure: kaleido's page in the headless browser sometimes fails to start on a busy
#: machine ("ReferenceError: kaleido_scopes is not defined"); a new attempt starts a new browser
ATTEMPTS = 3


def static_image(fig: go.Figure, fmt: str, *, width: int, height: int, scale: float, name: str) -> bytes:
    """The figure drawn as ``fmt`` (png, svg, pdf) by kaleido, tried :data:`ATTEMPTS` times; an
    AnalysisError naming the figure when every attempt failed (never a figure silently left out)."""
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            with _quiet_browser():
                return fig.to_image(format=fmt, width=width, height=height, scale=scale)
        except Exception as exc:  # kaleido and the browser raise their own error types
            last = exc
            if attempt + 1 < ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
    raise AnalysisError(f"figure {name}: the browser could not draw it in {ATTEMPTS} attempts "
                        f"({type(last).__name__}: {str(last)[:200]}); nothing was written for it. Run again, or check "
                        "that Chrome/Chromium starts (BROWSER_PATH).")
