"""Read a raw export (CSV/TSV, Parquet, Excel, SPSS, Stata) into a DataFrame, never modifying it.

Text files are read with every cell as a string, so identifiers keep their leading zeros and a
value that is not a number survives to be reported by validation; numbers are converted later.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputFileError

__all__ = ["NA_STRINGS", "SUPPORTED_SUFFIXES", "RawTable", "read_raw"]

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".parquet", ".pq", ".xlsx", ".xlsm", ".sav", ".zsav", ".dta"}
#: cell texts read as missing (besides the empty cell)
NA_STRINGS = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", ".", "-", "missing",
              "#N/A", "#NULL!"]


@dataclass(frozen=True)
class RawTable:
    """A raw table as read, with what is needed to point back into the file."""

    frame: pd.DataFrame
    path: Path
    #: first data row's number in the user's terms: line 2 of a CSV with a header, row 2 of a sheet
    first_row_number: int
    #: "line" for text files, "row" for spreadsheets, "record" for SPSS, Stata and Parquet
    row_word: str
    #: delimiter, encoding and decimal mark found in a text file
    dialect: Mapping[str, Any]


def read_raw(path: str | Path, options: Mapping[str, Any] | None = None) -> RawTable:
    """Read a raw export; raise :class:`InputFileError` naming the file when it cannot be read."""
    options = dict(options or {})
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: file not found; check the path and the working directory.")
    if p.is_dir():
        raise InputFileError(f"{p}: is a folder; give the path of a data file inside it.")
    suffix = p.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES or suffix == "":
            return _read_text(p, options)
        if suffix in (".parquet", ".pq"):
            return RawTable(pd.read_parquet(p), p, 1, "record", {})
        if suffix in (".xlsx", ".xlsm"):
            sheet = options.get("sheet", 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl style warnings are noise here
                frame = pd.read_excel(p, sheet_name=sheet, dtype=object, engine="openpyxl")
            return RawTable(_objects_to_text(frame), p, 2, "row", {"sheet": sheet})
        if suffix in (".sav", ".zsav"):
            import pyreadstat

            frame, _meta = pyreadstat.read_sav(str(p), apply_value_formats=True, formats_as_category=True)
            return RawTable(frame, p, 1, "record", {})
        if suffix == ".dta":
            frame = pd.read_stata(p, convert_categoricals=True)
            return RawTable(frame, p, 1, "record", {})
    except InputFileError:
        raise
    except (ValueError, OSError, KeyError, IndexError, TypeError, UnicodeError, zipfile.BadZipFile,
            ImportError, pd.errors.ParserError) as exc:
        raise InputFileError(f"{p}: cannot be read as a {suffix.lstrip('.').upper()} file "
                             f"({_first_line(exc)}). Check that the file is complete and of that "
                             "format, or export it again.") from None
    except Exception as exc:  # readers of binary formats raise their own error types
        raise InputFileError(f"{p}: cannot be read as a {suffix.lstrip('.').upper()} file "
                             f"({type(exc).__name__}: {_first_line(exc)}). Export it again.") from None
    if suffix == ".xls":
        raise InputFileError(f"{p}: old Excel .xls files are not supported; save it as .xlsx or CSV.")
    raise InputFileError(f"{p}: unknown file type {suffix!r}; supported: "
                         f"{', '.join(sorted(SUPPORTED_SUFFIXES))}.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Decode bytes: the study's encoding, else UTF-8 (with or without BOM), else Windows-1252 (so en
    dashes, curly quotes and euro signs of Excel exports survive), else Latin-1."""
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputFileError(f"cannot decode with encoding {encoding!r} ({exc}); "
                                 "fix read.encoding in the study file.") from None
    if b"\x00" in raw[:4096]:
        for bom, enc in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
            if raw.startswith(bom):
                return raw.decode(enc), enc
        raise InputFileError("contains binary data (NUL bytes), not delimited text; "
                             "export the data as CSV or give the file its real extension.")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc), "utf-8" if enc == "utf-8-sig" else enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","


def _read_text(p: Path, options: Mapping[str, Any]) -> RawTable:
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be opened ({exc.strerror}); check permissions.") from None
    try:
        text, encoding = _decode(raw, options.get("encoding"))
    except InputFileError as exc:
        raise InputFileError(f"{p}: {exc}") from None
    if not text.strip():
        raise InputFileError(f"{p}: the file is empty; export the data again.")
    delimiter = options.get("delimiter") or ("\t" if p.suffix.lower() in (".tsv", ".tab") else _sniff_delimiter(text))
    na_values = list(options.get("na_values") or []) + NA_STRINGS
    frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                        na_values=na_values, skipinitialspace=True, engine="python")
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 1 and len(frame) and delimiter == ",":
        raise InputFileError(f"{p}: only one column was found; if the file uses another delimiter, "
                             "set read.delimiter in the study file.")
    decimal = options.get("decimal") or ("," if delimiter == ";" else ".")
    dialect = {"delimiter": delimiter, "encoding": encoding, "decimal": decimal}
    return RawTable(frame, p, 2, "line", dialect)


def _objects_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cells arrive as Python objects; keep numbers as numbers and make the rest text."""
    out = {}
    for name, col in frame.items():
        present = col.dropna()
        if len(present) and present.map(lambda v: hasattr(v, "isoformat")).all():
            out[str(name).strip()] = pd.to_datetime(col)
            continue
        if present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            out[str(name).strip()] = pd.to_numeric(col)
            continue
        out[str(name).strip()] = col.map(_cell_text, na_action="ignore")
    return pd.DataFrame(out, index=frame.index)


def _cell_text(value: object) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[union-attr]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
