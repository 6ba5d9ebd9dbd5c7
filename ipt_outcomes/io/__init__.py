"""Reading raw trial exports from disk."""

from .readers import SUPPORTED_SUFFIXES, RawTable, read_raw
from .writers import WRITABLE_SUFFIXES, write_table

__all__ = ["SUPPORTED_SUFFIXES", "WRITABLE_SUFFIXES", "RawTable", "read_raw", "write_table"]
