"""Write a table in the format its file name asks for (CSV, TSV, Parquet, Excel, SPSS, Stata)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import ArgumentError, ArgumentTypeError, InputFileError
from .output import atomic_output

__all__ = ["FORMULA_STARTS", "WRITABLE_SUFFIXES", "formula_safe", "write_table"]

WRITABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".xlsx", ".sav", ".dta")
#: a cell starting with one of these is run as a formula by spreadsheets (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def formula_safe(value: object) -> object:
    """A text that a spreadsheet would run as a formula, with OWASP's leading apostrophe (``=1+1`` becomes
    ``'=1+1``, shown as typed); other values (and signed numbers such as ``-5``) unchanged. The reader
    takes the apostrophe off again (:func:`ipt_outcomes.io.readers.read_raw`), so the round trip is exact."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_table(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False,
                inputs: Iterable[str | Path | None] = ()) -> Path:
    """Write ``df`` to ``path``; the suffix chooses the format. Never replaces an existing file unless
    ``overwrite``, never an input, and atomically (:mod:`.output`). Text in an ``.xlsx`` file is
    stored as text, so a value such as ``=1+1`` can never become a live formula; in CSV and TSV such a
    text gets OWASP's leading apostrophe (:func:`formula_safe`)."""
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError(f"write_table() needs a pandas DataFrame, not {type(df).__name__}.")
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        raise ArgumentError(f"{p}: is a folder; give a file name for the table, e.g. {p / 'trial.csv'}.")
    if suffix not in WRITABLE_SUFFIXES:
        raise ArgumentError(f"{p}: cannot write {suffix or 'files without a suffix'}; use one of "
                            f"{', '.join(WRITABLE_SUFFIXES)}.")
    with atomic_output(p, force=overwrite, inputs=inputs, what="table") as tmp:
        _write(df, tmp, suffix)
    return p


def _write(df: pd.DataFrame, p: Path, suffix: str) -> None:
    try:
        if suffix == ".csv":
            _quoted(df).to_csv(p, index=False)
        elif suffix == ".tsv":
            _quoted(df).to_csv(p, index=False, sep="\t")
        elif suffix == ".parquet":
            df.to_parquet(p, index=False)
        elif suffix == ".xlsx":
            df.to_excel(p, index=False, engine="openpyxl")
            _text_not_formulas(p)
        elif suffix == ".sav":
            import pyreadstat

            pyreadstat.write_sav(_plain(df), str(p))
        elif suffix == ".dta":
            _plain(df).to_stata(p, write_index=False, version=118)
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be written ({exc.strerror or exc}).") from None


def _quoted(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`formula_safe` on its text cells and column names (a copy; ``df`` is untouched)."""
    text = [c for c in df.columns
            if df[c].dtype == object or isinstance(df[c].dtype, (pd.StringDtype, pd.CategoricalDtype))]
    out = df.copy(deep=False)
    for column in text:
        out[column] = df[column].astype(object).map(formula_safe, na_action="ignore")
    out.columns = [formula_safe(str(c)) for c in df.columns]
    return out


def _text_not_formulas(path: Path) -> None:
    """openpyxl stores a string that starts with ``=`` as a formula; store every such cell as text
    (lossless, unlike OWASP's leading quote, and Excel shows it as typed)."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    changed = False
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    changed = True
    if changed:
        book.save(path)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Columns as plain numpy types (SPSS and Stata writers do not take pandas extension types)."""
    out = {}
    for name, col in df.items():
        if isinstance(col.dtype, pd.StringDtype) or col.dtype == object:
            out[name] = col.astype(object).where(col.notna(), "").astype(str)
        elif pd.api.types.is_integer_dtype(col) and col.isna().any():
            out[name] = col.astype("float64")
        elif pd.api.types.is_extension_array_dtype(col) and not pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = col
    return pd.DataFrame(out)
