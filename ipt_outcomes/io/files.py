"""What may be read: a regular file that exists. Pipes, devices and sockets are refused before a
byte is read, since reading them may never end (a FIFO nobody writes, ``/dev/zero`` named ``.csv``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputFileError

__all__ = ["regular_file_size"]


def regular_file_size(path: str | Path, what: str = "data file") -> int:
    """The size in bytes of ``path``; :class:`InputFileError` when it is missing, a folder or not a
    regular file."""
    p = Path(path)
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise InputFileError(f"{p}: {what} not found; check the path and the working directory.") from None
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{p}: cannot open the {what} ({getattr(exc, 'strerror', None) or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{p}: is a folder; give the path of the {what} inside it.")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise InputFileError(f"{p}: is {kind}, not a file; save the {what} to disk and give its path.")
    return info.st_size


#: memory a delimited text file costs while it is read and made canonical, per byte of file (measured
#: about 12 with the C parser; the margin covers validation's keys)
TEXT_MEMORY_FACTOR = 15


def available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_text_memory(path: Path, size: int, available: int | None = None) -> None:
    """Refuse a delimited text file that cannot be read in the memory there is, before reading it."""
    available = available_memory() if available is None else available
    need = size * TEXT_MEMORY_FACTOR
    if available is not None and need > available:
        raise InputFileError(
            f"{path}: reading this {size / 1e9:.1f} GB text file needs about {need / 1e9:.0f} GB of memory and "
            f"{available / 1e9:.1f} GB is available. Convert it to Parquet once (about 10 times leaner to "
            "read), or fit it in parts with ipt_outcomes.scale (the partitioned path).")
