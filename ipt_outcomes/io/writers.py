"""Write a table in the format its file name asks for (CSV, TSV, Parquet, Excel, SPSS, Stata)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import ArgumentError, InputFileError

__all__ = ["WRITABLE_SUFFIXES", "write_table"]

WRITABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".xlsx", ".sav", ".dta")


def write_table(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``df`` to ``path``; the suffix chooses the format. Never overwrites unless asked."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise ArgumentError(f"{p}: cannot write {suffix or 'files without a suffix'}; use one of "
                            f"{', '.join(WRITABLE_SUFFIXES)}.")
    if p.exists() and not overwrite:
        raise InputFileError(f"{p}: already exists; choose another name or pass --force to replace it.")
    if not p.parent.exists():
        raise InputFileError(f"{p}: folder {p.parent} does not exist; create it first.")
    try:
        if suffix == ".csv":
            df.to_csv(p, index=False)
        elif suffix == ".tsv":
            df.to_csv(p, index=False, sep="\t")
        elif suffix == ".parquet":
            df.to_parquet(p, index=False)
        elif suffix == ".xlsx":
            df.to_excel(p, index=False, engine="openpyxl")
        elif suffix == ".sav":
            import pyreadstat

            pyreadstat.write_sav(_plain(df), str(p))
        elif suffix == ".dta":
            _plain(df).to_stata(p, write_index=False, version=118)
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be written ({exc.strerror or exc}).") from None
    return p


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
