"""Entry point of ``ipt-outcomes``: parse, call the library, render, choose the exit code.

Exit codes: 0 success; 1 the data failed validation or the analysis could not be done; 2 usage
error or unreadable input. Messages go to stderr; no traceback reaches the user (``--debug``
shows one for bug reports).
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import IPTOutcomesError
from . import commands, mmrm_command, pool_command
from .render import cli_words
from .terminal import Printable

__all__ = ["build_parser", "main", "run"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: usage error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ipt-outcomes", description="Outcome research on Interpersonal Psychotherapy trials.")
    parser.add_argument("--version", action="version", version=f"ipt-outcomes {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for register in (*commands.REGISTRY, mmrm_command.add_mmrm, pool_command.add_pool):
        register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ipt-outcomes: warning: {cli_words(str(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code. Data text reaches the terminal as text only
    (:mod:`.terminal`)."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Printable(out), Printable(err)  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # a command line shows warnings, whatever the caller's filters
            warnings.showwarning = _show_warning
            return _main(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a full disk or a closed pipe: said once already, never a traceback at exit
                _silence(stream)
        sys.stdout, sys.stderr = out, err


def _silence(stream) -> None:
    """Point a stream that cannot be written at /dev/null, so that the interpreter's own flush at exit
    does not print 'Exception ignored ...'."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line, before or after the command
    argv = [a for a in argv if a != "--debug"]
    try:
        args = parser.parse_args(argv)
        args.debug = debug
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except IPTOutcomesError as exc:
        print(f"ipt-outcomes: error: {cli_words(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ipt-outcomes: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS):
            return _internal(exc, args)
        # the output could not be written (a full disk, a quota): a message, not a traceback
        print(f"ipt-outcomes: error: the output could not be written ({exc.strerror or exc}); free some space or "
              "write elsewhere.", file=sys.stderr)
        _silence(sys.stdout)
        return 1
    except Exception as exc:  # a bug: say so plainly, without a traceback unless asked
        return _internal(exc, args)


def _internal(exc: Exception, args: argparse.Namespace) -> int:
    """A bug: said plainly, without a traceback unless --debug."""
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"ipt-outcomes: internal error ({type(exc).__name__}: {exc}). This is a bug in ipt-outcomes, "
          "not in your data; please report it with the command you ran (rerun with --debug for details).",
          file=sys.stderr)
    return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
