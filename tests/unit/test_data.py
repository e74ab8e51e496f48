"""Reading evaluation data: formats, locations, digests, column roles and every bad input."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quality_gates.shared.contracts.digests import sha256_file, sha256_tree
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.io.data import EvalData, load_eval_data, read_table, resolve_columns
from quality_gates.shared.policy.schema import DataSpec


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"A{i:04d}" for i in range(n)],
            "x1": rng.normal(size=n),
            "x2": rng.integers(0, 10, n),
            "color": rng.choice(["red", "green", "blue"], n),
            "score": rng.random(n),
            "pred": rng.integers(0, 2, n),
            "default": rng.integers(0, 2, n),
        }
    )


SPEC = DataSpec(label="default", exclude=["id"])


def _csv(path: Path, df: pd.DataFrame | None = None) -> Path:
    (df if df is not None else _frame()).to_csv(path, index=False)
    return path


def _parquet(path: Path, df: pd.DataFrame | None = None) -> Path:
    (df if df is not None else _frame()).to_parquet(path, index=False)
    return path


# --------------------------------------------------------------------------------------------
# Round trips


def _assert_same(loaded: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(loaded.columns) == list(expected.columns)
    assert isinstance(loaded.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(
        loaded, expected, check_dtype=False, check_exact=False, rtol=1e-12
    )


@pytest.mark.parametrize("name", ["data.csv", "data.tsv", "data.csv.gz", "data.parquet", "d.pq"])
def test_round_trip_by_extension(tmp_path: Path, name: str) -> None:
    df = _frame()
    path = tmp_path / name
    if name.endswith((".parquet", ".pq")):
        _parquet(path, df)
    elif name.endswith(".tsv"):
        df.to_csv(path, sep="\t", index=False)
    else:
        df.to_csv(path, index=False)  # pandas gzips by extension
    data = load_eval_data(str(path), SPEC)
    _assert_same(data.frame, df)
    assert data.digest == sha256_file(path)
    assert data.source == str(path)


def test_gzip_file_is_really_compressed_and_digest_is_of_compressed_bytes(tmp_path: Path) -> None:
    path = _csv(tmp_path / "data.csv.gz")
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    frame, digest = read_table(str(path))
    assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    _assert_same(frame, pd.read_csv(path))


def test_file_uri(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "with space.parquet")
    uri = path.as_uri()  # file:///.../with%20space.parquet
    assert "%20" in uri
    data = load_eval_data(uri, SPEC)
    _assert_same(data.frame, _frame())
    assert data.digest == sha256_file(path)
    assert data.source == uri


@pytest.mark.parametrize("writer", ["csv", "tsv", "parquet"])
def test_unknown_extension_is_sniffed(tmp_path: Path, writer: str) -> None:
    # A KFP Dataset artifact is usually a file called just "dataset".
    path = tmp_path / "dataset"
    df = _frame()
    if writer == "parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, sep="\t" if writer == "tsv" else ",", index=False)
    frame, digest = read_table(str(path))
    _assert_same(frame, df)
    assert digest == sha256_file(path)


def test_parquet_directory_in_sorted_order_with_tree_digest(tmp_path: Path) -> None:
    df = _frame(60)
    root = tmp_path / "ds"
    root.mkdir()
    # Written out of order: the reader must sort, not follow the listing order.
    _parquet(root / "part-2.parquet", df.iloc[40:])
    _parquet(root / "part-0.parquet", df.iloc[:20])
    _parquet(root / "part-1.parquet", df.iloc[20:40])
    (root / "_SUCCESS").write_bytes(b"")
    (root / ".part-0.parquet.crc").write_bytes(b"crc")
    data = load_eval_data(str(root), SPEC)
    _assert_same(data.frame, df.reset_index(drop=True))
    assert data.digest == sha256_tree(root)
    assert data.digest == load_eval_data(root.as_uri(), SPEC).digest

    before = data.digest
    _parquet(root / "part-1.parquet", df.iloc[20:40].assign(x2=99))
    assert load_eval_data(str(root), SPEC).digest != before


def test_hive_partitioned_directory_adds_partition_columns(tmp_path: Path) -> None:
    df = _frame(60)
    df["year"] = np.repeat([2023, 2024], 30)
    for year, part in df.groupby("year"):
        (tmp_path / f"year={year}").mkdir()
        _parquet(tmp_path / f"year={year}" / "part-0.parquet", part.drop(columns="year"))
    frame, _ = read_table(str(tmp_path))
    assert frame["year"].dtype == np.int64
    assert sorted(frame["year"].unique().tolist()) == [2023, 2024]
    assert frame.groupby("year").size().tolist() == [30, 30]


def test_pandas_index_in_parquet_becomes_a_column(tmp_path: Path) -> None:
    df = _frame()
    df.set_index("id").to_parquet(tmp_path / "a.parquet")
    df.to_parquet(tmp_path / "b.parquet")  # a RangeIndex: metadata only, no extra column
    # A filtered frame's unnamed index is stored as "__index_level_0__": not data, dropped.
    df[df["x2"] > 3].to_parquet(tmp_path / "c.parquet")
    assert "__index_level_0__" in pq.read_schema(tmp_path / "c.parquet").names
    a, _ = read_table(str(tmp_path / "a.parquet"))
    b, _ = read_table(str(tmp_path / "b.parquet"))
    c, _ = read_table(str(tmp_path / "c.parquet"))
    assert "id" in a.columns and isinstance(a.index, pd.RangeIndex)
    assert list(b.columns) == list(df.columns)
    assert list(c.columns) == list(df.columns) and isinstance(c.index, pd.RangeIndex)


def test_dtypes_are_sane(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("i,f,s,n,d,b\n1,1.5,a,,2024-01-02,true\n2,2.5,,3,2024-01-03,false\n")
    frame, _ = read_table(str(path))
    assert frame["i"].dtype == np.int64
    assert frame["f"].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["s"].dtype)
    assert frame["s"].isna().tolist() == [False, True]  # empty string is missing, as in pandas
    assert frame["n"].dtype == np.float64 and np.isnan(frame["n"].iloc[0])
    assert pd.api.types.is_datetime64_any_dtype(frame["d"].dtype)
    assert pd.api.types.is_bool_dtype(frame["b"].dtype)


def test_csv_type_change_after_the_first_block(tmp_path: Path) -> None:
    # pyarrow infers types from the first ~1 MB; a later text value must not break reading.
    n = 200_000
    code = np.arange(n).astype(str).astype(object)
    code[-1] = "X9"
    df = pd.DataFrame({"code": code, "default": np.arange(n) % 2})
    path = _csv(tmp_path / "big.csv", df)
    assert path.stat().st_size > 1 << 20
    frame, _ = read_table(str(path))
    assert len(frame) == n
    assert frame["code"].iloc[-1] == "X9"


def test_csv_is_reread_as_one_block_when_an_old_pyarrow_fails_on_a_late_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyarrow >= 17 re-infers across blocks; older versions (allowed by the package) raise.
    import quality_gates.shared.io.data as data_mod

    real = data_mod.pacsv.read_csv
    calls: list[object] = []

    def old_pyarrow(source, *, read_options=None, **kwargs):  # noqa: ANN001, ANN202
        calls.append(read_options)
        if read_options is None:
            raise pa.ArrowInvalid("In CSV column #0: CSV conversion error to int64: 'X9'")
        return real(source, read_options=read_options, **kwargs)

    monkeypatch.setattr(data_mod.pacsv, "read_csv", old_pyarrow)
    path = _write(tmp_path, "late.csv", "code,default\n1,0\nX9,1\n")
    frame, _ = read_table(path)
    assert frame["code"].tolist() == ["1", "X9"]
    assert len(calls) == 2 and calls[1].block_size > len("code,default\n1,0\nX9,1\n")


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_csv_quoted_multiline_cell_larger_than_a_block_reads_as_pandas_reads_it(
    tmp_path: Path, where: str
) -> None:
    """A valid CSV (RFC 4180) whose quoted cell holds line breaks and is larger than one read
    block (pyarrow's default is 1 MiB) is read, with the same rows and values as pandas."""
    import io

    import pyarrow.csv as pacsv

    block = pacsv.ReadOptions().block_size
    rng = np.random.default_rng(3)
    lines = [" ".join(f"w{x}" for x in rng.integers(0, 10**6, 12)) for _ in range(block // 60)]
    note = 'first line, with a comma and a "quote"\n' + "\n".join(lines) + "\nlast line"
    assert len(note.encode()) > 1.5 * block and note.count("\n") > 1000
    notes = ["short", "two\nlines", "x", "y"]
    notes[{"first": 0, "middle": 2, "last": 3}[where]] = note
    df = pd.DataFrame({"id": [1, 2, 3, 4], "note": notes, "default": [0, 1, 0, 1]})
    path = tmp_path / "multiline.csv"
    df.to_csv(path, index=False)
    raw = path.read_bytes()
    assert len(raw) > block and b'"first line' in raw
    frame, _ = read_table(str(path))
    expected = pd.read_csv(io.BytesIO(raw))
    assert len(frame) == len(expected) == 4
    assert frame["note"].tolist() == expected["note"].tolist() == notes
    assert frame["id"].tolist() == [1, 2, 3, 4] and frame["default"].tolist() == [0, 1, 0, 1]


# --------------------------------------------------------------------------------------------
# Digests


def test_digest_is_sha256_of_bytes_and_changes_with_one_byte(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    raw = path.read_bytes()
    _, digest = read_table(str(path))
    assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()

    i = raw.index(b"A0007") + 4
    path.write_bytes(raw[:i] + b"8" + raw[i + 1 :])  # A0007 -> A0008: still a valid CSV
    frame, changed = read_table(str(path))
    assert changed != digest
    assert frame["id"].iloc[7] == "A0008"


# --------------------------------------------------------------------------------------------
# Column roles


def test_features_default_excludes_label_exclude_prediction_and_score(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    data = load_eval_data(str(path), DataSpec(label="default", score="score", exclude=["id"]))
    assert data.label == "default" and data.score == "score" and data.prediction is None
    assert data.features == ["x1", "x2", "color", "pred"]
    assert list(data.feature_frame().columns) == data.features
    np.testing.assert_array_equal(data.labels(), _frame()["default"].to_numpy())


def test_caller_arguments_override_the_spec(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    spec = DataSpec(label="default", prediction="pred", features=["x1", "x2"], exclude=["id"])
    data = load_eval_data(
        str(path), spec, label="pred", prediction="default", score="score", features=["color"]
    )
    assert (data.label, data.prediction, data.score) == ("pred", "default", "score")
    assert data.features == ["color"]


def test_spec_features_are_used_as_given(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    data = load_eval_data(str(path), DataSpec(label="default", features=["x2", "x1"]))
    assert data.features == ["x2", "x1"]
    assert list(data.feature_frame().columns) == ["x2", "x1"]


def test_exclude_may_name_columns_the_table_lacks(tmp_path: Path) -> None:
    # One policy serves several datasets; an absent column is not passed to the model anyway.
    path = _csv(tmp_path / "d.csv")
    data = load_eval_data(str(path), DataSpec(label="default", exclude=["id", "region"]))
    assert data.features == ["x1", "x2", "color", "score", "pred"]


def test_label_not_required(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    data = load_eval_data(str(path), None, require_label=False)
    assert data.label is None
    assert "default" in data.features
    with pytest.raises(GateInputError, match="no label column"):
        data.labels()


def test_label_with_a_single_value_is_not_an_error(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", _frame().assign(default=1))
    assert set(load_eval_data(str(path), SPEC).labels().tolist()) == {1}


def test_precomputed_scores_need_no_features(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", _frame()[["default", "score"]])
    data = load_eval_data(str(path), DataSpec(label="default", score="score"))
    assert data.features == []


def test_resolve_columns_on_a_frame() -> None:
    frame = _frame()
    label, prediction, score, features = resolve_columns(
        frame, DataSpec(exclude=["id"]), label="default", prediction="pred", source="mem"
    )
    assert (label, prediction, score) == ("default", "pred", None)
    assert features == ["x1", "x2", "color", "score"]


def test_eval_data_is_frozen(tmp_path: Path) -> None:
    data = load_eval_data(str(_csv(tmp_path / "d.csv")), SPEC)
    assert isinstance(data, EvalData)
    with pytest.raises(AttributeError):
        data.label = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Remote (fsspec)


def test_memory_filesystem_through_fsspec() -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    df = _frame()
    raw = df.to_csv(index=False).encode()
    fs.pipe("/qg-test/eval.csv", raw)
    for i, part in enumerate([df.iloc[:25], df.iloc[25:]]):
        fs.pipe(f"/qg-test/ds/part-{i}.parquet", part.to_parquet(index=False))
    try:
        data = load_eval_data("memory://qg-test/eval.csv", SPEC)
        _assert_same(data.frame, df)
        assert data.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
        frame, digest = read_table("memory://qg-test/ds")
        _assert_same(frame, df)
        assert digest.startswith("sha256:")
        with pytest.raises(GateInputError, match="memory://qg-test/nope.csv"):
            read_table("memory://qg-test/nope.csv")
    finally:
        fs.rm("/qg-test", recursive=True)


def test_remote_directory_digest_matches_local_tree(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    df = _frame()
    (tmp_path / "sub").mkdir()
    for name, part in [("b.parquet", df.iloc[:25]), ("sub/a.parquet", df.iloc[25:])]:
        blob = part.to_parquet(index=False)
        (tmp_path / name).write_bytes(blob)
        fs.pipe(f"/qg-tree/{name}", blob)
    try:
        assert read_table("memory://qg-tree")[1] == sha256_tree(tmp_path)
    finally:
        fs.rm("/qg-tree", recursive=True)


def test_missing_fsspec_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reachable only in an environment without fsspec; simulate that one.
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(GateInputError) as info:
        read_table("gs://bucket/eval.parquet")
    assert "kfp-quality-gates[remote]" in str(info.value)
    assert "gs://bucket/eval.parquet" in str(info.value)


# --------------------------------------------------------------------------------------------
# Bad input: each case raises GateInputError with one line naming the offending path/column.


def _write(tmp_path: Path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def _good_csv(tmp_path: Path) -> str:
    return str(_csv(tmp_path / "good.csv"))


def _incompatible_dir(tmp_path: Path) -> str:
    root = tmp_path / "mixed"
    root.mkdir()
    pq.write_table(pa.table({"a": [1, 2], "default": [0, 1]}), root / "p0.parquet")
    pq.write_table(pa.table({"a": [[1], [2]], "default": [0, 1]}), root / "p1.parquet")
    return str(root)


def _empty_dir(tmp_path: Path) -> str:
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty")


def _no_columns(tmp_path: Path) -> str:
    pq.write_table(pa.table({}), tmp_path / "nocols.parquet")
    return str(tmp_path / "nocols.parquet")


def _dup_parquet(tmp_path: Path) -> str:
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["v", "v"])
    pq.write_table(table, tmp_path / "dup.parquet")
    return str(tmp_path / "dup.parquet")


def _frame_csv(df: pd.DataFrame):  # noqa: ANN202
    return lambda tmp_path: str(_csv(tmp_path / "bad.csv", df))


_BASE = _frame()

# (id, make the data -> uri, spec, keyword overrides, texts the message must contain). Each
# text pins the reason, so a case cannot pass by tripping over an earlier, unrelated check.
BAD_INPUTS = [
    ("missing-file", lambda t: str(t / "nope.csv"), SPEC, {}, ("nope.csv", "does not exist")),
    (
        "missing-file-uri",
        lambda t: (t / "gone.parquet").as_uri(),
        SPEC,
        {},
        ("gone.parquet", "does not exist"),
    ),
    ("empty-directory", _empty_dir, SPEC, {}, ("holds no Parquet files",)),
    ("zero-bytes", lambda t: _write(t, "zero.csv", b""), SPEC, {}, ("0 bytes",)),
    (
        "corrupt-parquet",
        lambda t: _write(t, "bad.parquet", b"PAR1 garbage"),
        SPEC,
        {},
        ("cannot read Parquet file",),
    ),
    (
        "corrupt-gzip",
        lambda t: _write(t, "bad.csv.gz", b"\x1f\x8bnot gzip"),
        SPEC,
        {},
        ("cannot decompress gzip",),
    ),
    (
        "ragged-csv",
        lambda t: _write(t, "ragged.csv", "a,default\n1,0\n2,1,7\n"),
        SPEC,
        {},
        ("cannot parse", "as CSV"),
    ),
    (
        "not-utf8-csv",
        lambda t: _write(t, "latin1.csv", "name,default\nM\u00fcller,1\n".encode("latin-1")),
        SPEC,
        {},
        ("'name'", "UTF-8"),
    ),
    (
        "non-parquet-in-directory",
        lambda t: str(Path(_write(t, "dir/notes.txt", "hello")).parent),
        SPEC,
        {},
        ("notes.txt", "not a Parquet file"),
    ),
    ("incompatible-directory", _incompatible_dir, SPEC, {}, ("incompatible schemas",)),
    ("header-only", lambda t: _write(t, "hdr.csv", "x1,default\n"), SPEC, {}, ("0 rows",)),
    ("no-columns", _no_columns, SPEC, {}, ("no columns",)),
    (
        "duplicate-columns-csv",
        lambda t: _write(t, "d.csv", "a,a,default\n1,2,0\n"),
        SPEC,
        {},
        ("duplicate column names 'a'",),
    ),
    ("duplicate-columns-parquet", _dup_parquet, SPEC, {}, ("duplicate column names 'v'",)),
    ("no-label-configured", _good_csv, DataSpec(), {}, ("no label column", "data.label")),
    (
        "label-missing",
        _good_csv,
        DataSpec(label="defualt"),
        {},
        ("label column 'defualt' not found",),
    ),
    ("label-missing-arg", _good_csv, SPEC, {"label": "target"}, ("label column 'target' not",)),
    (
        "feature-missing",
        _good_csv,
        SPEC,
        {"features": ["x1", "x9"]},
        ("feature column 'x9' not found",),
    ),
    (
        "prediction-missing",
        _good_csv,
        SPEC,
        {"prediction": "yhat"},
        ("prediction column 'yhat' not found",),
    ),
    ("score-missing", _good_csv, SPEC, {"score": "proba"}, ("score column 'proba' not found",)),
    (
        "label-null",
        _frame_csv(_BASE.assign(default=_BASE["default"].astype(float).where(_BASE.index != 3))),
        SPEC,
        {},
        ("label column 'default'", "1 missing", "row 3"),
    ),
    (
        "prediction-null",
        _frame_csv(_BASE.assign(pred=_BASE["pred"].astype(float).where(_BASE.index % 7 != 5))),
        SPEC,
        {"prediction": "pred"},
        ("prediction column 'pred'", "7 missing", "row 5"),
    ),
    (
        "score-text",
        _frame_csv(_BASE.assign(score="high")),
        SPEC,
        {"score": "score"},
        ("score column 'score'", "not numbers"),
    ),
    (
        "score-out-of-range",
        _frame_csv(_BASE.assign(score=_BASE["score"] + 1.0)),
        SPEC,
        {"score": "score"},
        ("score column 'score'", "50 value(s) outside [0, 1]"),
    ),
    (
        "score-nan",
        _frame_csv(_BASE.assign(score=_BASE["score"].where(_BASE.index != 10))),
        SPEC,
        {"score": "score"},
        ("score column 'score'", "1 missing/NaN", "row 10"),
    ),
    ("features-empty", _good_csv, SPEC, {"features": []}, ("features list", "is empty")),
    (
        "features-duplicated",
        _good_csv,
        SPEC,
        {"features": ["x1", "x1"]},
        ("'x1' more than once",),
    ),
    ("label-is-score", _good_csv, SPEC, {"score": "default"}, ("'default'", "label and score")),
    (
        "label-is-feature",
        _good_csv,
        SPEC,
        {"features": ["x1", "default"]},
        ("'default'", "both label and a feature"),
    ),
    (
        "feature-also-excluded",
        _good_csv,
        DataSpec(label="default", exclude=["x1"], features=["x1", "x2"]),
        {},
        ("'x1'", "data.features and data.exclude"),
    ),
    (
        "nothing-left-for-features",
        _frame_csv(_BASE[["id", "default"]]),
        SPEC,
        {},
        ("no feature columns",),
    ),
    (
        "unsupported-scheme",
        lambda t: "foo://bucket/eval.csv",
        SPEC,
        {},
        ("unsupported URI scheme 'foo://'",),
    ),
    (
        "file-uri-with-host",
        lambda t: "file://server/share/eval.csv",
        SPEC,
        {},
        ("'server'", "only local files"),
    ),
]


@pytest.mark.parametrize(
    ("make", "spec", "kwargs", "needles"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_raises_one_line_error(tmp_path, make, spec, kwargs, needles) -> None:  # noqa: ANN001
    uri = make(tmp_path)
    with pytest.raises(GateInputError) as info:
        load_eval_data(uri, spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    for needle in needles:
        assert needle in message, message
    # Every message names the data source, so a log line says which file to fix.
    assert uri in message or Path(uri).name in message, message


def test_missing_label_suggests_close_matches_and_lists_columns(tmp_path: Path) -> None:
    with pytest.raises(GateInputError) as info:
        load_eval_data(_good_csv(tmp_path), DataSpec(label="defualt"))
    message = str(info.value)
    assert "Did you mean 'default'?" in message
    assert "id, x1, x2" in message


def test_null_label_message_counts_and_says_what_to_do(tmp_path: Path) -> None:
    df = _BASE.assign(default=_BASE["default"].astype(float))
    df.loc[[4, 9, 11], "default"] = np.nan
    with pytest.raises(GateInputError) as info:
        load_eval_data(str(_csv(tmp_path / "n.csv", df)), SPEC)
    message = str(info.value)
    assert "3 missing" in message and "row 4" in message and "drop or impute" in message


def test_empty_string_label_counts_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.csv", "x1,default\n1,yes\n2,\n3,no\n")
    with pytest.raises(GateInputError, match="1 missing value.*row 1"):
        load_eval_data(path, SPEC.model_copy(update={"exclude": []}))


def test_remote_scheme_without_backend_says_what_to_install() -> None:
    try:
        import s3fs  # noqa: F401

        pytest.skip("s3fs is installed; the missing-backend path cannot be reached")
    except ImportError:
        pass
    with pytest.raises(GateInputError) as info:
        read_table("s3://bucket/eval.parquet")
    assert "kfp-quality-gates[remote]" in str(info.value)


@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("|", "pipe")])
def test_other_separator_is_named_not_reported_as_missing_columns(tmp_path, sep, name):
    # A European Excel export: one column whose name is the whole header.
    path = tmp_path / "export.csv"
    path.write_text(f"a{sep}b{sep}y\n1,5{sep}2{sep}0\n3,5{sep}4{sep}1\n")
    with pytest.raises(GateInputError) as err:
        read_table(str(path))
    msg = str(err.value)
    assert f"looks {name}-separated" in msg and "export.csv" in msg and "\n" not in msg


def test_single_column_csv_with_a_semicolon_in_a_value_is_read(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("note\nhello; world\n")
    frame, _ = read_table(str(path))
    assert list(frame.columns) == ["note"] and frame["note"][0] == "hello; world"
