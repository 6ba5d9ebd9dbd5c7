"""One guarded writer for every output file (tables, reports, figures, copies of the example).

Rules, the same from the command line and from Python:

- an input is never written: the output may not be any file the analysis read, whatever path,
  symbolic link or hard link names it (compared by device and inode), not even with ``force``;
- an existing file is replaced only with ``force`` (``--force``);
- a directory, a special file (device, FIFO, socket; even with ``force``), a missing folder or an
  unwritable folder is refused with a message that says so;
- the file is written to a temporary file in the same folder and renamed over the target only
  when complete, so an interrupted run leaves no half-written file (and replacing a hard link
  replaces that name only, never the other names' contents).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import ArgumentError

__all__ = ["atomic_output", "check_output", "same_file"]


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when two paths name the same file (through links too); False if either does not exist."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_output(path: str | Path, *, force: bool = False, inputs: Iterable[str | Path | None] = (),
                 what: str = "output") -> Path:
    """Refuse an output path that would lose or replace data; return it as a Path."""
    p = Path(path)
    for source in inputs:
        if source is not None and same_file(p, source):
            raise ArgumentError(f"{p}: is an input of this analysis ({source}); write the {what} to another file.")
    if p.is_dir():
        raise ArgumentError(f"{p}: is a folder; give a file name for the {what}.")
    if p.exists() and not p.is_file():  # a device, FIFO or socket (or a link to one): never replaced, even with force
        raise ArgumentError(f"{p}: is a special file (a device, pipe or socket), not a regular file; give the name of "
                            f"a file for the {what}.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ArgumentError(f"{p}: folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ArgumentError(f"{p}: folder {parent} is not writable; choose another folder.")
    if (p.exists() or p.is_symlink()) and not force:
        raise ArgumentError(f"{p}: already exists; choose another name, or pass --force (force=True) to replace it.")
    return p


@contextlib.contextmanager
def atomic_output(path: str | Path, *, force: bool = False, inputs: Iterable[str | Path | None] = (),
                  what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    target = check_output(path, force=force, inputs=inputs, what=what)
    parent = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        if not force and (target.exists() or target.is_symlink()):  # appeared while we wrote
            raise ArgumentError(f"{target}: appeared while it was written; pass --force to replace it.")
        os.replace(tmp_path, target)
    except OSError as exc:
        raise ArgumentError(f"{target}: cannot be written ({exc.strerror or exc}).") from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
