"""Read a raw export (CSV/TSV, Parquet, Excel, SPSS, Stata) into a DataFrame, never modifying it.

Text files are read with every cell as a string, so identifiers keep their leading zeros and a
value that is not a number survives to be reported by validation; numbers are converted later.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError
from .files import check_text_memory, regular_file_size

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


def _read_parquet(p: Path) -> pd.DataFrame:
    """A Parquet file, its text columns as categoricals: each distinct text is then converted once,
    as for a CSV read by Arrow (the values and their order are those of the file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(p)
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    table = pq.read_table(p, read_dictionary=text)
    if text:
        table = table.unify_dictionaries()
    return table.to_pandas(split_blocks=True)


def read_raw(path: str | Path, options: Mapping[str, Any] | None = None) -> RawTable:
    """Read a raw export; raise :class:`InputFileError` naming the file when it cannot be read."""
    options = dict(options or {})
    p = Path(path)
    size = regular_file_size(p)
    suffix = p.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES or suffix == "":
            check_text_memory(p, size)
            return _read_text(p, options)
        if suffix in (".parquet", ".pq"):
            return RawTable(_read_parquet(p), p, 1, "record", {})
        if suffix in (".xlsx", ".xlsm"):
            sheet = options.get("sheet", 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl style warnings are noise here
                frame = pd.read_excel(p, sheet_name=sheet, dtype=object, engine="openpyxl")
                _no_uncomputed_formulas(p, sheet, frame)
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
    head = raw[:4096]
    if head.count(b"\x00") > 8 or (b"\x00" in head and re.search(rb"[\x01-\x08\x0e-\x1f]", head)):
        for bom, enc in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
            if raw.startswith(bom):
                return raw.decode(enc), enc
        raise InputFileError("contains binary data (NUL bytes), not delimited text; "
                             "export the data as CSV or give the file its real extension.")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise InputFileError(f"line {line} contains a NUL byte (\\x00), which no text export "
                             "has: the file is damaged. Remove the character or export the data again.")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc), "utf-8" if enc == "utf-8-sig" else enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_SNIFF_BYTES = 256 * 1024


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields most often.

    Linear in a bounded sample (the first 50 lines, at most 256 KB), so no file can make detection
    slow; ties go to the order comma, semicolon, tab, bar.
    """
    sample = text[:_SNIFF_BYTES].splitlines()[:_SNIFF_LINES]
    if len(sample) > 1 and len(text) > _SNIFF_BYTES:
        sample = sample[:-1]  # the last line may be cut
    best, best_score = ",", (0.0, 0)
    for d in _DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(sample, delimiter=d)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        agree = sum(w == widths[0] for w in widths) / len(widths)
        score = (agree, widths[0])
        if score > best_score:
            best, best_score = d, score
    return best


def _read_text(p: Path, options: Mapping[str, Any]) -> RawTable:
    raw = read_whole(p)
    fast = _read_text_arrow(p, raw, options)
    if fast is not None:
        return fast
    try:
        text, encoding = _decode(raw, options.get("encoding"))
    except InputFileError as exc:
        raise InputFileError(f"{p}: {exc}") from None
    del raw
    if not text.strip():
        raise InputFileError(f"{p}: the file is empty; export the data again.")
    delimiter = options.get("delimiter") or ("\t" if p.suffix.lower() in (".tsv", ".tab") else _sniff_delimiter(text))
    na_values = list(options.get("na_values") or []) + NA_STRINGS
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # index_col=False: rows one field longer than the header never turn the first column into an index
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                                na_values=na_values, skipinitialspace=True, engine="c", low_memory=False,
                                index_col=False)
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{p}: {_parser_problem(text, str(exc), delimiter)}") from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _only_empty_extra_fields(text, delimiter, p)
    _no_duplicate_names(next(csv.reader(io.StringIO(text[:_SNIFF_BYTES]), delimiter=delimiter), []), p, "line 1")
    if "'" in text:  # one scan of the file spares a per-column search in the usual file without apostrophes
        frame = _unquote_formulas(frame)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 1 and len(frame) and delimiter == ",":
        raise InputFileError(f"{p}: only one column was found; if the file uses another delimiter, "
                             "set read.delimiter in the study file.")
    decimal = options.get("decimal") or ("," if delimiter == ";" else ".")
    dialect = {"delimiter": delimiter, "encoding": encoding, "decimal": decimal}
    return RawTable(frame, p, 2, "line", dialect)


_UTF8 = {"utf-8", "utf8", "utf-8-sig", "utf_8"}


def read_whole(p: Path) -> bytes:
    """The file's bytes, read once into memory. A file that another program changes while it is read
    (it shrinks, grows or is rewritten) is refused with a message rather than read half-old,
    half-new; a memory mapping would stop the process with SIGBUS when the file shrinks."""
    try:
        handle = open(p, "rb")
    except OSError as exc:
        raise InputFileError(f"{p}: cannot be opened ({exc.strerror or exc}); check permissions.") from None
    with handle:
        before = os.fstat(handle.fileno())
        try:
            raw = handle.read()
        except OSError as exc:
            raise InputFileError(f"{p}: cannot be read ({exc.strerror or exc}).") from None
        after = os.fstat(handle.fileno())
    changed = (len(raw) != before.st_size or after.st_size != before.st_size
               or after.st_mtime_ns != before.st_mtime_ns)
    if changed:
        raise InputFileError(f"{p}: the file changed while it was read ({before.st_size:,} bytes when opened, "
                             f"{after.st_size:,} after); another program is writing it. Read it again when that "
                             "program has finished (export to a new file and rename it when complete).")
    return raw


def _has(raw: Any, needle: bytes) -> bool:
    return raw.find(needle) >= 0


def _read_text_arrow(p: Path, raw: Any, options: Mapping[str, Any]) -> RawTable | None:
    """The usual file (UTF-8, one value per field, no space after the delimiter) read by Arrow's
    multithreaded CSV reader with every cell as text: as fast as ``pandas.read_csv``. None when the
    file needs the careful reader below (another encoding, NUL bytes, rows of the wrong width, an
    unclosed quote, ...), which then explains what is wrong with it. ``raw``: the file's bytes
    (:func:`read_whole`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = options.get("encoding")
    if (encoding and str(encoding).lower() not in _UTF8) or not len(raw) or _has(raw, b"\x00"):
        return None
    sample = raw[:_SNIFF_BYTES].decode("utf-8", errors="ignore").lstrip("\ufeff")
    tsv = p.suffix.lower() in (".tsv", ".tab")
    delimiter = options.get("delimiter") or ("\t" if tsv else _sniff_delimiter(sample))
    if len(delimiter) != 1:
        return None
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    if not header or any("\n" in h or "\r" in h or not h.strip() for h in header):
        return None
    quoted = _has(raw, b'"')
    if quoted and _space_before_quote(raw):  # the careful reader skips the space as pandas does
        return None
    names = [f"c{i}" for i in range(len(header))]
    na_values = [str(v) for v in options.get("na_values") or []] + NA_STRINGS
    text = pa.dictionary(pa.int32(), pa.string())  # each column arrives with its distinct values
    try:
        table = pacsv.read_csv(
            pa.py_buffer(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, text),
                                                 null_values=na_values, strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    _no_duplicate_names(header, p, "line 1")
    missing = set(na_values)

    def column(name: str) -> pd.Categorical:
        chunks = table[name]
        return _categorical(chunks.unify_dictionaries().combine_chunks() if table.num_rows else pa.array([], text),
                            missing)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:  # Arrow and NumPy release the GIL
        frame = pd.DataFrame(dict(zip([h.strip() for h in header], pool.map(column, names), strict=True)))
    if _has(raw, b"'"):
        frame = _unquote_formulas(frame)
    if frame.shape[1] == 1 and len(frame) and delimiter == ",":
        raise InputFileError(f"{p}: only one column was found; if the file uses another delimiter, "
                             "set read.delimiter in the study file.")
    decimal = options.get("decimal") or ("," if delimiter == ";" else ".")
    return RawTable(frame, p, 2, "line", {"delimiter": delimiter, "encoding": "utf-8", "decimal": decimal})


def _space_before_quote(raw: Any) -> bool:
    """Whether a quote follows a space anywhere in ``raw`` (a quoted value after a space). One pass
    of numpy over the bytes: Python's search for the two-byte pattern is ten times slower."""
    data = np.frombuffer(raw, dtype=np.uint8)
    block = 1 << 24  # 16 MB at a time: the comparison's temporary stays small however large the file
    for start in range(0, max(len(data) - 1, 0), block):
        window = data[start:start + block + 1]
        if ((window[1:] == ord('"')) & (window[:-1] == ord(" "))).any():
            return True
    return False


def _categorical(column: Any, na_values: set[str]) -> pd.Categorical:
    """An Arrow dictionary column as a pandas Categorical (positions into the distinct values), with
    spaces after the delimiter skipped as ``pandas.read_csv(skipinitialspace=True)`` does: a value
    that is then a missing-value code is missing."""
    import pyarrow.compute as pc

    indices, n = column.indices, len(column.dictionary)
    small = np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32  # Arrow indices are int32
    codes = (indices.fill_null(-1) if indices.null_count else indices).to_numpy().astype(small)
    values = column.dictionary.to_numpy(zero_copy_only=False).astype(object)
    if n and pc.any(pc.starts_with(column.dictionary, " ")).as_py():
        stripped = [v.lstrip(" ") for v in values]
        remap, values = pd.factorize(np.array([None if v in na_values else v for v in stripped], dtype=object))
        codes = np.where(codes >= 0, np.append(remap, -1)[codes], -1)
        values = np.asarray(values, dtype=object)
    return pd.Categorical.from_codes(codes, pd.Index(values, dtype=object))


_QUOTED_FORMULA = r"'[=+\-@\t\r]"


def _unquote_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Take off the apostrophe that OWASP's CSV-injection defence (and our writer) puts before a text
    starting with ``= + - @``, so that such a text reads back as it was written."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):  # distinct values unquoted, then merged
            values = frame[column].cat.categories.to_numpy(dtype=object)
            unquoted = np.array([v[1:] if isinstance(v, str) and re.match(_QUOTED_FORMULA, v) else v for v in values],
                                dtype=object)
            if (unquoted != values).any():
                codes = frame[column].cat.codes.to_numpy()
                remap, merged = pd.factorize(unquoted)
                frame[column] = pd.Categorical.from_codes(np.where(codes >= 0, remap[codes], -1),
                                                          pd.Index(merged, dtype=object))
            continue
        quoted = frame[column].str.match(_QUOTED_FORMULA, na=False)
        if quoted.any():
            frame[column] = frame[column].where(~quoted, frame[column].str[1:])
    frame.columns = [c[1:] if re.match(_QUOTED_FORMULA, str(c)) else c for c in frame.columns]
    return frame


def _only_empty_extra_fields(text: str, delimiter: str, p: Path) -> None:
    """Rows longer than the header: empty trailing fields (a delimiter at the end of every line, as some
    exports write) are dropped; a value there would be lost, so it is refused with its line."""
    rows = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    width = len(next(rows, []))
    for number, row in enumerate(rows, start=2):
        extra = [v for v in row[width:] if v.strip()]
        if extra:
            raise InputFileError(f"{p}: line {number} has {len(row)} fields where the header has {width}, and the "
                                 f"extra value {extra[0][:40]!r} would be lost; a {_name(delimiter)} inside a value "
                                 "needs the value in quotes, or the header lacks a column name.")


def _no_duplicate_names(header: list[Any], p: Path, where: str) -> None:
    """Two columns with one name: pandas would rename the second (``score.1``) and one of them would be
    analysed without a word. Refuse, naming the columns."""
    names = [str(h).strip() for h in header if h is not None and str(h).strip()]
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(position)
    duplicated = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if duplicated:
        listed = "; ".join(f"{n[:40]!r} in columns {', '.join(map(str, pos))}" for n, pos in list(duplicated.items())[:5])
        raise InputFileError(f"{p}: the header ({where}) names a column more than once: {listed}. Rename or remove "
                             "the extra column so that each name is used once.")


def _parser_problem(text: str, message: str, delimiter: str) -> str:
    """What the CSV parser could not read, with the line of the file and how to fix it."""
    opened = _unclosed_quote_line(text)
    if opened is not None:
        return (f'line {opened}: a quote (") opens a field that is never closed, so the rest of the file '
                "would be read as one cell; close or remove the quote on that line.")
    wide = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if wide:
        n, line, saw = wide.groups()
        return (f"line {line} has {saw} fields where the header has {n}; a {_name(delimiter)} inside a value "
                "needs the value in quotes, or the line has an extra delimiter.")
    return f"cannot be read as delimited text ({_first_line(Exception(message))}); export it again."


def _unclosed_quote_line(text: str) -> int | None:
    """The line where a double quote opens a field that no later quote closes."""
    inside, opened = False, None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"') % 2:
            inside = not inside
            opened = number if inside else None
    return opened if inside else None


def _name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(delimiter, repr(delimiter))


def _no_uncomputed_formulas(p: Path, sheet: Any, frame: pd.DataFrame) -> None:
    """Refuse a header that names a column twice, and formula cells whose value was never saved (files
    written by scripts, not by Excel):
    they would be read as missing scores without a word."""
    import openpyxl

    book = openpyxl.load_workbook(p, read_only=True, data_only=False)
    try:
        ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
        header = next(ws.iter_rows(max_row=1, values_only=True), ())
        formulas = [(cell.row, cell.column, cell.value) for row in ws.iter_rows() for cell in row
                    if getattr(cell, "data_type", None) == "f"]
    finally:
        book.close()
    _no_duplicate_names(list(header), p, "row 1")
    if not formulas:
        return
    header_row = 1
    lost = []
    for row, col, formula in formulas:
        i, j = row - header_row - 1, col - 1
        if 0 <= i < len(frame) and j < frame.shape[1] and pd.isna(frame.iat[i, j]):
            lost.append(f"row {row}, column {frame.columns[j]!s:.40} ({str(formula)[:40]})")
    if lost:
        more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
        raise InputFileError(f"{p}: {len(lost)} formula cell(s) have no saved value, so their values are unknown: "
                             f"{'; '.join(lost[:3])}{more}. Open the file in Excel (or LibreOffice) and save it, "
                             "so the computed values are stored, or export it as CSV.")


def _objects_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cells arrive as Python objects; keep numbers as numbers and make the rest text."""
    out = {}
    for name, col in frame.items():
        present = col.dropna()
        if len(present) and present.map(lambda v: hasattr(v, "isoformat")).all():
            try:
                out[str(name).strip()] = pd.to_datetime(col).astype("datetime64[ns]")
                continue
            except (ValueError, OverflowError):  # outside 1677-2262: kept as text, validation names the row
                pass
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
