"""Write figures to files: interactive HTML (offline, plotly.js embedded) or static PNG/SVG/PDF.

Static images are drawn by kaleido in a headless Chrome or Chromium; none is downloaded. Install
one (Debian: ``apt-get install chromium``) or point ``BROWSER_PATH`` at it.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from ..errors import AnalysisError, ArgumentError, InputFileError

__all__ = ["STATIC_FORMATS", "save_figure", "static_export_available"]

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


def save_figure(fig: go.Figure, path: str | Path, format: str | None = None, *, width: int = 1000,
                height: int = 600, scale: float = 2.0) -> Path:
    """Write ``fig``; the format comes from ``format`` or the file suffix (html, png, svg, pdf)."""
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt == "html":
        fig.write_html(p, include_plotlyjs=True, full_html=True)
        return p
    if fmt not in STATIC_FORMATS:
        raise ArgumentError(f"{p}: format {fmt!r} is not supported; use html, png, svg or pdf.")
    if not p.parent.exists():
        raise InputFileError(f"{p}: folder {p.parent} does not exist; create it first.")
    if not static_export_available():
        raise AnalysisError("static figures (png, svg, pdf) need Chrome or Chromium, and none was found: install "
                            "one (Debian/Ubuntu: apt-get install chromium) or set BROWSER_PATH to its executable; "
                            "interactive HTML figures work without it.")
    try:
        fig.write_image(p, format=fmt, width=width, height=height, scale=scale)
    except Exception as exc:  # kaleido and the browser raise their own error types
        raise AnalysisError(f"{p}: the browser could not draw the figure ({type(exc).__name__}: {exc}).") from None
    return p
