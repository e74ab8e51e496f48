"""Evaluation data: read a table once, digest its exact bytes, resolve the role of each column.

Every gate reads its data through :func:`load_eval_data`, so every gate fails the same way on the
same bad input: a :class:`~quality_gates.shared.contracts.errors.GateInputError` with one line
saying what is wrong, in which column or file, and what to do. The bytes are read once, hashed, and
parsed from memory, so the digest recorded in a GateResult is that of exactly what was evaluated,
even if the file changes while the gate runs.

Supported inputs: CSV (``.csv``, ``.tsv``, gzip-compressed or not) and Parquet (``.parquet``,
``.pq``, or a directory of Parquet files, Hive-style ``key=value`` partitions included), from a
local path, a ``file://`` URI, or any fsspec URI (``s3://``, ``gs://``, ``abfs://`` ...) when
``kfp-quality-gates[remote]`` is installed. A file without a known extension (a KFP artifact is
usually just ``.../dataset``) is recognised by its content.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quality_gates.shared.contracts.errors import GateInputError, mask_values
from quality_gates.shared.policy.schema import DataSpec

Format = Literal["csv", "tsv", "parquet"]

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# Schemes that fsspec serves through an optional backend; without fsspec they get the install
# hint, any other scheme is reported as unsupported.
_REMOTE_SCHEMES = frozenset(
    {
        "s3",
        "s3a",
        "gs",
        "gcs",
        "abfs",
        "abfss",
        "az",
        "adl",
        "hdfs",
        "webhdfs",
        "http",
        "https",
        "oss",
        "hf",
        "sftp",
        "ftp",
        "memory",
    }
)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_INDEX_COLUMN_RE = re.compile(r"^__index_level_\d+__$")
_HIVE_DEFAULT = "__HIVE_DEFAULT_PARTITION__"
_SHOW_COLUMNS = 8


@dataclass(frozen=True, eq=False)
class EvalData:
    """A table ready for evaluation, with the role of each column and the digest of its bytes.

    ``eq=False``: two loads are compared by their ``digest``, not by comparing DataFrames.

    Attributes:
        frame: The table as loaded, every column, with a default ``RangeIndex``.
        label: Ground-truth column, or ``None`` when not required and not configured.
        prediction: Column of precomputed predictions, or ``None``.
        score: Column of precomputed positive-class scores in [0, 1], or ``None``.
        features: Columns passed to the model, in order.
        digest: ``sha256:<hex>`` of the exact bytes read.
        source: The URI as given by the caller.

    """

    frame: pd.DataFrame
    label: str | None
    prediction: str | None
    score: str | None
    features: list[str]
    digest: str
    source: str

    def feature_frame(self) -> pd.DataFrame:
        """Return the model input: the feature columns in order.

        Returns:
            A DataFrame with exactly :attr:`features` as columns.

        """
        return self.frame.loc[:, list(self.features)]

    def labels(self) -> np.ndarray:
        """Return the ground truth as a numpy array.

        Returns:
            The label column's values.

        Raises:
            GateInputError: If no label column was resolved.

        """
        if self.label is None:
            raise GateInputError(
                f"no label column is set for {self.source}; set data.label in the policy"
            )
        return self.frame[self.label].to_numpy()


# --------------------------------------------------------------------------------------------
# Reading


def read_table(uri: str) -> tuple[pd.DataFrame, str]:
    """Read a CSV or Parquet table and digest the exact bytes read.

    Args:
        uri: A local path, a ``file://`` URI, or an fsspec URI such as ``s3://bucket/key``. A
            directory is read as a Parquet dataset (its files in sorted order).

    Returns:
        The table (default ``RangeIndex``) and ``sha256:<hex>`` of its bytes; for a directory,
        the digest of :func:`quality_gates.shared.contracts.digests.sha256_tree` over it.

    Raises:
        GateInputError: If the location does not exist, is empty, cannot be read or parsed, or
            holds a table without rows, without columns or with duplicate column names.

    """
    uri = str(uri)
    if not uri.strip():
        raise GateInputError(
            "no data location given; pass the path or URI of a CSV or Parquet file"
        )
    match = _SCHEME_RE.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("", "file"):
        path = _local_path(uri) if scheme else Path(uri)
        table, digest = _read_local(path, uri)
    else:
        table, digest = _read_remote(uri, scheme)
    frame = _to_pandas(table, uri)
    _check_frame(frame, uri)
    return frame, digest


def _local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        raise GateInputError(
            f"file URI {uri} names host '{parsed.netloc}'; only local files are supported, "
            "use file:///absolute/path"
        )
    return Path(url2pathname(parsed.path))


def _read_local(path: Path, uri: str) -> tuple[pa.Table, str]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        items = [(p.relative_to(path).as_posix(), _read_bytes(p, uri)) for p in files]
        return _parse_dataset(items, uri), _tree_digest(items)
    if not path.exists():
        resolved = path.resolve()
        hint = "" if path.is_absolute() else f" (resolved to {resolved})"
        raise GateInputError(
            f"data file {uri} does not exist{hint}; check the path or the pipeline input"
        )
    data = _read_bytes(path, uri)
    return _parse_bytes(data, path.name, uri), "sha256:" + hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path, uri: str) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise GateInputError(
            f"cannot read data {uri}: permission denied on {path}; fix its permissions"
        ) from None
    except OSError as exc:
        raise GateInputError(f"cannot read data {uri}: {exc.strerror or exc}") from None


def _read_remote(uri: str, scheme: str) -> tuple[pa.Table, str]:
    try:
        import fsspec
    except ImportError:
        if scheme in _REMOTE_SCHEMES:
            raise GateInputError(
                f"reading {scheme}:// data ({uri}) needs fsspec; install kfp-quality-gates[remote]"
            ) from None
        raise GateInputError(_unsupported_scheme(uri, scheme)) from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except ImportError as exc:
        raise GateInputError(
            f"reading {scheme}:// data ({uri}) needs the fsspec backend for '{scheme}' "
            f"({_first_line(exc)}); install kfp-quality-gates[remote]"
        ) from None
    except ValueError as exc:
        if "protocol not known" in str(exc).lower():
            raise GateInputError(_unsupported_scheme(uri, scheme)) from None
        raise GateInputError(f"invalid data URI {uri}: {_first_line(exc)}") from None
    items: list[tuple[str, bytes]] | None = None
    try:
        if fs.isdir(path):
            root = PurePosixPath(path)
            found = {PurePosixPath(f).relative_to(root): f for f in fs.find(path)}
            items = [(rel.as_posix(), fs.cat_file(found[rel])) for rel in sorted(found)]
        else:
            data = fs.cat_file(path)
    except FileNotFoundError:
        raise GateInputError(
            f"data {uri} does not exist; check the bucket, the key and the pipeline input"
        ) from None
    except Exception as exc:  # noqa: BLE001 - backends raise their own types (auth, network)
        raise GateInputError(
            f"cannot read data {uri}: {type(exc).__name__}: {_first_line(exc)}; "
            "check the URI and the storage credentials"
        ) from None
    if items is not None:
        return _parse_dataset(items, uri), _tree_digest(items)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return _parse_bytes(data, PurePosixPath(path).name, uri), digest


def _unsupported_scheme(uri: str, scheme: str) -> str:
    return (
        f"unsupported URI scheme '{scheme}://' in {uri}; use a local path, file://, s3://, gs:// "
        "or abfs:// (other fsspec protocols need their backend installed)"
    )


def _tree_digest(items: Sequence[tuple[str, bytes]]) -> str:
    # Same framing as digests.sha256_tree, so a directory digest can be recomputed from disk
    # without this module; computed here from the bytes already in memory (one read).
    h = hashlib.sha256()
    for rel, data in items:
        name = rel.encode("utf-8")
        h.update(len(name).to_bytes(8, "big") + name)
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return "sha256:" + h.hexdigest()


# --------------------------------------------------------------------------------------------
# Parsing


def _format_of(name: str) -> Format | None:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return _EXTENSIONS.get(Path(lower).suffix)


def _parse_bytes(data: bytes, name: str, uri: str) -> pa.Table:
    if not data:
        raise GateInputError(f"data file {uri} is empty (0 bytes); write the table before the gate")
    fmt = _format_of(name)
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise GateInputError(
                f"cannot decompress gzip data {uri}: {_first_line(exc)}; the file is corrupt"
            ) from None
        if not data:
            raise GateInputError(f"data file {uri} decompresses to 0 bytes; it holds no table")
    if fmt is None:
        fmt = "parquet" if data[:4] == _PARQUET_MAGIC else _sniff_delimiter(data)
    if fmt == "parquet":
        return _parse_parquet(data, uri)
    return _parse_csv(data, fmt, uri)


def _sniff_delimiter(data: bytes) -> Format:
    first = data[:65536].split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def _parse_csv(data: bytes, fmt: Format, uri: str) -> pa.Table:
    parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
    # Empty strings are missing values, as pandas reads them: an empty label cell must be
    # reported as missing, not silently become a class "".
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    _check_separator(data, fmt, uri)
    table = _read_csv(data, fmt, uri, parse, convert)
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    if binary:
        # pyarrow reads text that is not UTF-8 (Latin-1, a binary file) as raw bytes.
        raise GateInputError(
            f"cannot parse {uri} as {fmt.upper()}: column(s) {_quote(binary)} are not valid "
            "UTF-8 text; re-save the file as UTF-8"
        )
    return table


def _check_separator(data: bytes, fmt: Format, uri: str) -> None:
    # A ';'- or '|'-separated file (European Excel exports) has a header without the expected
    # separator; parsed anyway it is one column named after the whole header (or a "wrong
    # number of columns" error when decimals use commas), and every later message would point
    # the wrong way.
    header = data[:65536].split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    if ("\t" if fmt == "tsv" else ",") in header:
        return
    for sep, name in ((";", "semicolon"), ("|", "pipe")):
        if sep in header:
            expected = "tab" if fmt == "tsv" else "comma"
            raise GateInputError(
                f"cannot parse {uri} as {fmt.upper()}: its header '{header[:60]}' has no "
                f"{expected} but {name}s; the file looks {name}-separated, re-save it "
                f"{expected}-separated (numbers with '.' decimals) or as Parquet"
            )


def _read_csv(
    data: bytes,
    fmt: Format,
    uri: str,
    parse: pacsv.ParseOptions,
    convert: pacsv.ConvertOptions,
) -> pa.Table:
    try:
        try:
            return pacsv.read_csv(
                pa.BufferReader(data), parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            message = str(exc).lower()
            # Quoted line breaks: pyarrow cuts blocks at line ends it does not know are quoted
            # ("expected 3 columns, got 1"), or the cell outgrows a block ("straddles").
            multiline = b'"' in data and ("straddl" in message or "parse error" in message)
            if "conversion error" not in message and not multiline:
                raise
            # Older pyarrow infers column types from the first block only; a late value that
            # does not fit (a string after a megabyte of numbers) needs the whole file as one.
            # A quoted cell holding line breaks (valid CSV, RFC 4180) can straddle the blocks
            # pyarrow cuts the file into, or be larger than one: read the whole file as one
            # block, with quoted newlines allowed, as pandas reads it.
            whole = pacsv.ReadOptions(block_size=min(len(data) + 1, 2**31 - 1))
            quoted = pacsv.ParseOptions(
                delimiter=parse.delimiter,
                quote_char=parse.quote_char,
                double_quote=parse.double_quote,
                escape_char=parse.escape_char,
                newlines_in_values=True,
                ignore_empty_lines=parse.ignore_empty_lines,
            )
            return pacsv.read_csv(
                pa.BufferReader(data),
                read_options=whole,
                parse_options=quoted if multiline else parse,
                convert_options=convert,
            )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise GateInputError(
            f"cannot parse {uri} as {fmt.upper()}: {_first_line(exc, mask=True)}; fix the file or "
            "convert it to Parquet"
        ) from None


def _parse_parquet(data: bytes, uri: str, member: str | None = None) -> pa.Table:
    where = f"{member} in {uri}" if member else uri
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        # Checked before reading: pyarrow cannot select columns whose names are duplicated.
        _check_names(parquet.schema_arrow.names, where)
        return parquet.read()
    except (pa.ArrowException, OSError) as exc:
        raise GateInputError(
            f"cannot read Parquet file {where}: {_first_line(exc, mask=True)}; the file is corrupt "
            "or not Parquet"
        ) from None


def _parse_dataset(items: Sequence[tuple[str, bytes]], uri: str) -> pa.Table:
    tables: list[pa.Table] = []
    partitions: list[dict[str, str]] = []
    for rel, data in items:
        parts = rel.split("/")
        # Spark and Hive write _SUCCESS, _metadata and .crc files beside the data; pyarrow skips
        # the same prefixes.
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        if data[:4] != _PARQUET_MAGIC:
            raise GateInputError(
                f"{rel} in data directory {uri} is not a Parquet file; a directory must hold "
                "only Parquet files (names starting with '_' or '.' are ignored)"
            )
        tables.append(_parse_parquet(data, uri, member=rel))
        partitions.append(
            dict(p.split("=", 1) for p in parts[:-1] if "=" in p and not p.startswith("="))
        )
    if not tables:
        raise GateInputError(
            f"data directory {uri} holds no Parquet files; point at a file or at a directory "
            "of .parquet files"
        )
    tables = _add_partition_columns(tables, partitions)
    try:
        return pa.concat_tables(
            [_strip_pandas_metadata(t) for t in tables], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise GateInputError(
            f"Parquet files in data directory {uri} have incompatible schemas: "
            f"{_first_line(exc, mask=True)}; rewrite them with one schema"
        ) from None


def _add_partition_columns(
    tables: list[pa.Table], partitions: list[dict[str, str]]
) -> list[pa.Table]:
    keys = list(dict.fromkeys(k for p in partitions for k in p))
    for key in keys:
        values = [p.get(key) for p in partitions]
        values = [None if v is None or v == _HIVE_DEFAULT else unquote(v) for v in values]
        present = [v for v in values if v is not None]
        is_int = all(re.fullmatch(r"-?\d+", v) for v in present)
        typ = pa.int64() if is_int else pa.string()
        for i, (table, value) in enumerate(zip(tables, values, strict=True)):
            if key in table.column_names:
                continue  # the file's own column wins over the folder name
            scalar = None if value is None else (int(value) if is_int else value)
            tables[i] = table.append_column(key, pa.array([scalar] * table.num_rows, type=typ))
    return tables


def _strip_pandas_metadata(table: pa.Table) -> pa.Table:
    # Reading without the pandas metadata keeps every stored column a column (a named index
    # written by pandas comes back as a column, as it would from CSV) and lets files written by
    # different tools concatenate; unnamed index columns carry no data and are dropped.
    drop = [c for c in table.column_names if _INDEX_COLUMN_RE.match(c)]
    if drop:
        table = table.drop_columns(drop)
    return table.replace_schema_metadata(None)


def _to_pandas(table: pa.Table, uri: str) -> pd.DataFrame:
    if not isinstance(table, pa.Table):  # pragma: no cover - defensive
        raise GateInputError(f"data {uri} did not parse to a table")
    _check_names(list(table.column_names), uri)
    table = _strip_pandas_metadata(table)
    # Dates as datetime64, not Python objects; strings come back as pandas' string dtype.
    return table.to_pandas(date_as_object=False)


# --------------------------------------------------------------------------------------------
# Validation


def _check_names(columns: list[object], source: str) -> None:
    if not columns:
        raise GateInputError(f"data {source} has no columns; write the table with its header")
    names = pd.Index([str(c) for c in columns])
    dup = names[names.duplicated()].unique().tolist()
    if dup:
        raise GateInputError(
            f"data {source} has duplicate column names {_quote(dup)}; rename them so that every "
            "column name is unique"
        )


def _check_frame(frame: pd.DataFrame, source: str) -> None:
    _check_names(list(frame.columns), source)
    if len(frame) == 0:
        raise GateInputError(
            f"data {source} has 0 rows (columns: {_preview(list(frame.columns))}); "
            "evaluate on a non-empty table"
        )


def resolve_columns(
    frame: pd.DataFrame,
    spec: DataSpec | None,
    *,
    label: str | None = None,
    prediction: str | None = None,
    score: str | None = None,
    features: Sequence[str] | None = None,
    require_label: bool = True,
    source: str = "<data>",
) -> tuple[str | None, str | None, str | None, list[str]]:
    """Decide which column plays which role and check the values those roles need.

    Arguments given here override the ``DataSpec``. Features default to every column that is not
    the label, prediction or score and not in ``spec.exclude``.

    Args:
        frame: The table.
        spec: The ``data`` section of the policy; ``None`` for an empty one.
        label: Label column; overrides ``spec.label``.
        prediction: Precomputed-prediction column; overrides ``spec.prediction``.
        score: Precomputed-score column (positive-class probability); overrides ``spec.score``.
        features: Model input columns; overrides ``spec.features``.
        require_label: Whether a label column must be configured (gates that compare with
            ground truth); when ``False`` and none is configured, the label is ``None``.
        source: Name of the data for messages.

    Returns:
        ``(label, prediction, score, features)``.

    Raises:
        GateInputError: If a named column is missing, a column is named in two roles, the
            feature list is empty, the label or prediction has missing values, or the score is not
            a probability.

    """
    spec = spec or DataSpec()
    _check_frame(frame, source)
    label = label if label is not None else spec.label
    prediction = prediction if prediction is not None else spec.prediction
    score = score if score is not None else spec.score
    explicit = features is not None or spec.features is not None
    feature_list = list(features if features is not None else (spec.features or []))
    columns = [str(c) for c in frame.columns]

    if label is None and require_label:
        raise GateInputError(
            f"no label column configured for {source}; set data.label in the policy "
            f"(columns: {_preview(columns)})"
        )
    named = _check_roles(frame, {"label": label, "prediction": prediction, "score": score}, source)

    # data.exclude may name columns a given table lacks: one policy serves several datasets, and
    # an absent column is not passed to the model anyway.
    if explicit:
        _check_features(frame, feature_list, named, spec, source)
    else:
        taken = {name for _, name in named} | set(spec.exclude)
        feature_list = [c for c in frame.columns if c not in taken]
        if not feature_list and prediction is None and score is None:
            raise GateInputError(
                f"no feature columns left in {source} after removing the label and "
                f"data.exclude (columns: {_preview(columns)}); a model needs input columns"
            )

    if label is not None:
        _check_no_missing(frame[label], "label", label, source, "drop or impute those rows")
    if prediction is not None:
        _check_no_missing(
            frame[prediction], "prediction", prediction, source, "fix the scoring step"
        )
    if score is not None:
        _check_score(frame[score], score, source)
    return label, prediction, score, feature_list


def _check_roles(
    frame: pd.DataFrame, roles: dict[str, str | None], source: str
) -> list[tuple[str, str]]:
    """Check that each named role column exists and that no column plays two roles."""
    columns = [str(c) for c in frame.columns]
    for role, name in roles.items():
        if name is not None and name not in frame.columns:
            raise GateInputError(_missing(role, [name], columns, source))
    named = [(role, name) for role, name in roles.items() if name is not None]
    for i, (role_a, name_a) in enumerate(named):
        for role_b, name_b in named[i + 1 :]:
            if name_a == name_b:
                raise GateInputError(
                    f"column '{name_a}' of {source} is named as both {role_a} and {role_b}; "
                    "give each role its own column"
                )
    return named


def _check_features(
    frame: pd.DataFrame,
    feature_list: list[str],
    named: list[tuple[str, str]],
    spec: DataSpec,
    source: str,
) -> None:
    """Check an explicitly given feature list against the table and the other roles."""
    columns = [str(c) for c in frame.columns]
    if not feature_list:
        raise GateInputError(
            f"the features list for {source} is empty; list the model's input columns in "
            "data.features or leave it unset to use every other column"
        )
    dup = pd.Index(feature_list)
    dup = dup[dup.duplicated()].unique().tolist()
    if dup:
        raise GateInputError(
            f"features for {source} list {_quote(dup)} more than once; list each once"
        )
    missing = [c for c in feature_list if c not in frame.columns]
    if missing:
        raise GateInputError(_missing("feature", missing, columns, source))
    for role, name in named:
        if name in feature_list:
            raise GateInputError(
                f"column '{name}' of {source} is named as both {role} and a feature; remove "
                "it from data.features"
            )
    both = [c for c in feature_list if c in spec.exclude]
    if both:
        raise GateInputError(
            f"columns {_quote(both)} of {source} are both in data.features and "
            "data.exclude; remove them from one of the two"
        )


def _check_no_missing(col: pd.Series, role: str, name: str, source: str, todo: str) -> None:
    mask = col.isna().to_numpy()
    n = int(mask.sum())
    if n:
        first = int(np.flatnonzero(mask)[0])
        raise GateInputError(
            f"{role} column '{name}' of {source} has {n} missing value(s) of {len(col)} "
            f"(first at row {first}, 0-based); {todo} before evaluation"
        )


def _check_score(col: pd.Series, name: str, source: str) -> None:
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        raise GateInputError(
            f"score column '{name}' of {source} has dtype {col.dtype}, not numbers; it must hold "
            "positive-class probabilities in [0, 1]"
        )
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.isnan(values)
    if nan.any():
        first = int(np.flatnonzero(nan)[0])
        raise GateInputError(
            f"score column '{name}' of {source} has {int(nan.sum())} missing/NaN value(s) "
            f"(first at row {first}, 0-based); fix the scoring step"
        )
    outside = (values < 0.0) | (values > 1.0)
    if outside.any():
        idx = np.flatnonzero(outside)
        raise GateInputError(
            f"score column '{name}' of {source} has {idx.size} value(s) outside [0, 1] "
            f"(first at row {int(idx[0])}: {values[idx[0]]:g}); scores must be probabilities, "
            "not logits or labels"
        )


def _missing(role: str, names: list[str], columns: list[str], source: str) -> str:
    what = "column" if len(names) == 1 else "columns"
    hints = []
    for name in names[:3]:
        close = difflib.get_close_matches(str(name), columns, n=3, cutoff=0.6)
        if close:
            which = "" if len(names) == 1 else f"for '{name}' "
            hint = f"{which}did you mean {_quote(close, ' or ')}?"
            hints.append(hint[0].upper() + hint[1:])
    hint = (" " + " ".join(hints)) if hints else ""
    key = "data.features" if role == "feature" else f"data.{role}"
    return (
        f"{role} {what} {_quote(names)} not found in {source}.{hint} Available columns: "
        f"{_preview(columns)}; fix {key} in the policy or the data"
    )


def _quote(names: Sequence[object], sep: str = ", ") -> str:
    shown = [f"'{n}'" for n in list(names)[:_SHOW_COLUMNS]]
    more = f" (+{len(names) - _SHOW_COLUMNS} more)" if len(names) > _SHOW_COLUMNS else ""
    return sep.join(shown) + more


def _preview(columns: Sequence[object]) -> str:
    shown = ", ".join(str(c) for c in list(columns)[:_SHOW_COLUMNS])
    if len(columns) > _SHOW_COLUMNS:
        shown += f", ... ({len(columns)} in all)"
    return shown


def _first_line(exc: BaseException, *, mask: bool = False) -> str:
    # mask: the error is about the table's content (a parse error quotes the row it failed on).
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    line = mask_values(line) if mask else line
    return line if len(line) <= 200 else line[:197] + "..."


# --------------------------------------------------------------------------------------------
# Entry point


def load_eval_data(
    uri: str,
    spec: DataSpec | None = None,
    *,
    label: str | None = None,
    prediction: str | None = None,
    score: str | None = None,
    features: list[str] | None = None,
    require_label: bool = True,
) -> EvalData:
    """Read evaluation data and resolve the role of its columns.

    Args:
        uri: Local path, ``file://`` URI or fsspec URI of a CSV/Parquet file or Parquet directory.
        spec: The ``data`` section of the policy; ``None`` for an empty one.
        label: Label column; overrides ``spec.label``.
        prediction: Precomputed-prediction column; overrides ``spec.prediction``.
        score: Precomputed-score column; overrides ``spec.score``.
        features: Model input columns; overrides ``spec.features``.
        require_label: Whether a label column must be configured.

    Returns:
        The table, its column roles, the digest of its bytes and its source.

    Raises:
        GateInputError: On any input problem, with a one-line message naming the file or column.

    Example:
        >>> data = load_eval_data("eval.parquet", policy.data)  # doctest: +SKIP
        >>> model.predict_proba(data.feature_frame())  # doctest: +SKIP

    """
    frame, digest = read_table(uri)
    resolved = resolve_columns(
        frame,
        spec,
        label=label,
        prediction=prediction,
        score=score,
        features=features,
        require_label=require_label,
        source=str(uri),
    )
    return EvalData(frame, *resolved, digest=digest, source=str(uri))
