"""Pick a SHAP explainer for a model and return attributions per *input column*.

Tree ensembles get shap's exact ``TreeExplainer`` (path-dependent, no background needed), linear
models the ``LinearExplainer``, anything else a model-agnostic ``PermutationExplainer`` over the
model's input columns (slower, sized by the time budget, and reported as a warning). For a
scikit-learn ``Pipeline`` the final estimator is explained on the transformed features and the
attributions are summed back onto the input columns that produced them (one-hot parts summed),
so a rule names ``purpose``, never ``cat__purpose_car``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from quality_gates.shared.contracts.errors import GateInputError

Task = Literal["binary", "multiclass", "regression"]
Kind = Literal["tree", "linear", "permutation"]

_TREE_CLASSES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "IsolationForest",
    }
)
# Third-party tree libraries that shap's TreeExplainer reads natively, when installed.
_TREE_MODULES = ("xgboost", "lightgbm", "catboost")
_MAP_SAMPLE_ROWS = 256


@dataclass(frozen=True)
class Target:
    """Which model output is explained.

    Attributes:
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: The classifier's classes (column order of ``predict_proba``), else None.
        pos_index: Index of the positive class in ``classes`` (binary only).
        outputs: One name per explained output (the positive class, every class, or ``output``).
    """

    task: Task
    classes: list[Any] | None
    pos_index: int | None
    outputs: list[str]


def resolve_target(estimator: Any, positive_label: Any) -> Target:
    """Decide which output of a model to explain.

    Args:
        estimator: The loaded model (native estimator or MLflow pyfunc).
        positive_label: ``data.positive_label`` of the policy, or None for the last class.

    Returns:
        The explained output.

    Raises:
        GateInputError: If ``positive_label`` is not among the classifier's classes.
    """
    classes = getattr(estimator, "classes_", None)
    if classes is None or not callable(getattr(estimator, "predict_proba", None)):
        if classes is not None and len(classes) == 2:
            # A classifier without probabilities (LinearSVC): its margin is still explainable.
            cls = [c.item() if hasattr(c, "item") else c for c in np.asarray(classes)]
            return Target("binary", cls, _pos_index(cls, positive_label), [str(cls[-1])])
        return Target("regression", None, None, ["output"])
    cls = [c.item() if hasattr(c, "item") else c for c in np.asarray(classes)]
    if len(cls) == 2:
        idx = _pos_index(cls, positive_label)
        return Target("binary", cls, idx, [str(cls[idx])])
    return Target("multiclass", cls, None, [str(c) for c in cls])


def _pos_index(classes: list[Any], positive_label: Any) -> int:
    if positive_label is None:
        return len(classes) - 1
    names = [str(c) for c in classes]
    if str(positive_label) not in names:
        raise GateInputError(
            f"positive_label {positive_label!r} is not among the model's classes {names}; "
            "fix data.positive_label in the policy"
        )
    return names.index(str(positive_label))


@dataclass
class ModelExplainer:
    """A model with the explainer chosen for it, returning attributions per input column.

    Attributes:
        kind: ``tree``, ``linear`` or ``permutation`` (model-agnostic).
        description: What was used, for the report (e.g. ``TreeExplainer (exact)``).
        units: The explained output's units (``log-odds``, ``probability``, ``output``).
        features: The model's input columns (attribution columns, in order).
        target: The explained output.
        fallback_reason: Why the model-agnostic explainer was used, when it was.
        mapping_note: How transformed features were mapped back, when not one-to-one.
    """

    kind: Kind
    description: str
    units: str
    features: list[str]
    target: Target
    fallback_reason: str | None = None
    mapping_note: str | None = None
    _fn: Any = field(default=None, repr=False)

    def explain(self, rows: pd.DataFrame) -> np.ndarray:
        """Return attributions of shape ``(n_rows, n_features, n_outputs)`` per input column."""
        return self._fn(rows.loc[:, self.features])


# --------------------------------------------------------------------------------------------
# Building


def build_explainer(
    *,
    model: Any,
    flavor: str,
    features: list[str],
    sample: pd.DataFrame,
    background: pd.DataFrame,
    positive_label: Any,
    permutations: int,
    seed: int,
    uri: str,
) -> ModelExplainer:
    """Choose and build the explainer for one model.

    Args:
        model: The loaded model (``LoadedModel.model``).
        flavor: ``sklearn`` or ``pyfunc``.
        features: The model's input columns, in the order it takes them.
        sample: Rows to be explained (used to map transformed features back to inputs).
        background: Reference rows (linear and model-agnostic explainers).
        positive_label: ``data.positive_label`` (binary classifiers).
        permutations: Permutations per row of the model-agnostic explainer.
        seed: Seed of the model-agnostic explainer.
        uri: The model's URI, for messages.

    Returns:
        The explainer.

    Raises:
        GateInputError: When the model cannot be explained at all.
    """
    target = resolve_target(model, positive_label) if flavor == "sklearn" else _pyfunc_target()
    reason = None
    if flavor == "sklearn":
        prep, final = _split_pipeline(model)
        kind = _exact_kind(final)
        if kind is not None:
            try:
                return _build_exact(
                    kind=kind,
                    prep=prep,
                    final=final,
                    features=features,
                    sample=sample,
                    background=background,
                    target=target,
                )
            except GateInputError:
                raise
            except Exception as exc:  # noqa: BLE001 - any shap refusal falls back, with the reason
                reason = (
                    f"shap's {'TreeExplainer' if kind == 'tree' else 'LinearExplainer'} "
                    f"refused {type(final).__name__}: {' '.join(str(exc).split())[:200]}"
                )
        else:
            reason = (
                f"{type(final).__name__} has no exact SHAP explainer (not a tree or linear model)"
            )
    else:
        reason = "the model is an MLflow pyfunc model, explained through its predict function"
    return _build_permutation(
        model=model,
        flavor=flavor,
        features=features,
        sample=sample,
        background=background,
        target=target,
        permutations=permutations,
        seed=seed,
        reason=reason,
        uri=uri,
    )


def _pyfunc_target() -> Target:
    return Target("regression", None, None, ["output"])


def _split_pipeline(model: Any) -> tuple[Any | None, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        final = model.steps[-1][1]
        prep = model[:-1] if len(model.steps) > 1 else None
        return prep, final
    return None, model


def _exact_kind(final: Any) -> Kind | None:
    name = type(final).__name__
    module = type(final).__module__ or ""
    if name in _TREE_CLASSES or module.split(".")[0] in _TREE_MODULES:
        return "tree"
    try:
        from sklearn.linear_model._base import LinearClassifierMixin, LinearModel
    except ImportError:  # pragma: no cover - sklearn moved its private bases
        return "linear" if hasattr(final, "coef_") and hasattr(final, "intercept_") else None
    if isinstance(final, (LinearClassifierMixin, LinearModel)) and hasattr(final, "coef_"):
        return "linear"
    return None


def _dense(x: Any) -> np.ndarray:
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=float)


def _build_exact(
    *,
    kind: Kind,
    prep: Any | None,
    final: Any,
    features: list[str],
    sample: pd.DataFrame,
    background: pd.DataFrame,
    target: Target,
) -> ModelExplainer:
    import shap

    def transform(rows: pd.DataFrame) -> np.ndarray:
        return _dense(prep.transform(rows) if prep is not None else rows.to_numpy())

    mapping, note = column_mapping(prep, features, sample)
    if kind == "tree":
        explainer = shap.TreeExplainer(final)
        # Forests explain probabilities, boosted models margins (log-odds): report which.
        output = getattr(getattr(explainer, "model", None), "tree_output", None)
        units = {"probability": "probability", "log_odds": "log-odds"}.get(
            str(output), "model output" if target.task != "regression" else "output"
        )
        description = "TreeExplainer (exact, tree-path-dependent)"

        def raw(xt: np.ndarray) -> Any:
            return explainer.shap_values(xt, check_additivity=False)

    else:
        bg = transform(background.loc[:, features])
        explainer = shap.LinearExplainer(final, shap.maskers.Independent(bg, max_samples=len(bg)))
        units = "log-odds" if target.task != "regression" else "output"
        if target.task != "regression" and not callable(getattr(final, "predict_proba", None)):
            units = "decision function"
        description = "LinearExplainer (interventional, independent features)"

        def raw(xt: np.ndarray) -> Any:
            return explainer.shap_values(xt)

    def fn(rows: pd.DataFrame) -> np.ndarray:
        xt = transform(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = normalise(raw(xt), target=target, n_rows=len(rows), n_cols=xt.shape[1])
        # Sum the transformed parts back onto their input columns, output by output.
        return np.einsum("ntk,tp->npk", values, mapping)

    # Fail now, on two rows, rather than after the budget was spent.
    probe = fn(sample.iloc[: min(2, len(sample))].loc[:, features])
    if not np.all(np.isfinite(probe)):
        raise ValueError("it returned non-finite attributions")
    return ModelExplainer(
        kind=kind,
        description=description,
        units=units,
        features=list(features),
        target=target,
        mapping_note=note,
        _fn=fn,
    )


def normalise(values: Any, *, target: Target, n_rows: int, n_cols: int) -> np.ndarray:
    """Bring shap's output to ``(n_rows, n_cols, n_outputs)`` for the explained target.

    Args:
        values: What an explainer returned: an array ``(n, p)`` or ``(n, p, K)``, or a list of
            ``K`` arrays ``(n, p)`` (older shap).
        target: The explained output.
        n_rows: Rows explained.
        n_cols: Columns explained.

    Returns:
        Attributions for the positive class (binary), every class (multiclass) or the output.

    Raises:
        ValueError: If the shape fits none of these.
    """
    if isinstance(values, list):
        values = np.stack([np.asarray(v, dtype=float) for v in values], axis=-1)
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] != n_rows or arr.shape[1] != n_cols:
        raise ValueError(f"unexpected attribution shape {arr.shape} for {n_rows}x{n_cols}")
    k = arr.shape[2]
    if target.task == "binary":
        if k == 2:
            return arr[:, :, [target.pos_index]]
        if k == 1:
            # One margin explains classes_[1]; a positive class of classes_[0] flips its sign.
            return arr if target.pos_index == 1 else -arr
    elif target.task == "multiclass" and k == len(target.classes or []):
        return arr
    elif target.task == "regression" and k == 1:
        return arr
    raise ValueError(f"attributions for {k} outputs do not fit a {target.task} model")


# --------------------------------------------------------------------------------------------
# Mapping transformed features back to input columns


def column_mapping(
    prep: Any | None, features: list[str], sample: pd.DataFrame
) -> tuple[np.ndarray, str | None]:
    """Return the ``(n_transformed, n_inputs)`` matrix that sums attributions onto input columns.

    A ``ColumnTransformer`` is mapped transformer by transformer: one input column owns all its
    outputs; outputs named after their input (scalers, imputers, ``passthrough``) or prefixed by
    it (``OneHotEncoder``: ``purpose_car``) belong to it. Anything else is found by perturbation:
    shuffle one input column of a sample and see which outputs change; an output that depends on
    several inputs is split evenly between them.

    Args:
        prep: The preprocessing part of a pipeline, or None for a bare estimator.
        features: The input columns.
        sample: Rows to probe the preprocessing with.

    Returns:
        The mapping matrix and a note when any part was approximate (else None).
    """
    p = len(features)
    if prep is None:
        return np.eye(p), None
    from sklearn.compose import ColumnTransformer

    probe = sample.loc[:, features].iloc[:_MAP_SAMPLE_ROWS]
    core = prep
    if hasattr(prep, "steps") and len(prep.steps) == 1:
        core = prep.steps[0][1]
    if isinstance(core, ColumnTransformer) and hasattr(core, "output_indices_"):
        n_out = _dense(core.transform(probe.iloc[:2])).shape[1]
        mapping = np.zeros((n_out, p))
        notes: list[str] = []
        index = {f: i for i, f in enumerate(features)}
        names_in = list(getattr(core, "feature_names_in_", features))
        for name, trans, cols in core.transformers_:
            out = core.output_indices_.get(name, slice(0, 0))
            if trans == "drop" or out.stop <= out.start:
                continue
            cols = _column_names(cols, names_in)
            block, note = _map_block(trans, cols, out, core, probe)
            if note:
                notes.append(f"{name}: {note}")
            for j, col in enumerate(cols):
                if col in index:
                    mapping[out.start : out.stop, index[col]] += block[:, j]
        return mapping, "; ".join(notes) or None
    base = _dense(prep.transform(probe))
    names = _names_out(prep, features)
    if names is not None and names == features:
        return np.eye(p), None
    block = _perturbation_block(lambda df: _dense(prep.transform(df)), base, probe, features)
    return block, "preprocessing mapped back to input columns by perturbation"


def _column_names(cols: Any, names_in: list[str]) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    if callable(cols):
        return []
    cols = list(np.asarray(cols).ravel()) if not isinstance(cols, list) else cols
    if cols and isinstance(cols[0], (bool, np.bool_)):
        return [n for n, keep in zip(names_in, cols, strict=False) if keep]
    return [names_in[int(c)] if isinstance(c, (int, np.integer)) else str(c) for c in cols]


def _names_out(trans: Any, cols: list[str]) -> list[str] | None:
    try:
        return [str(n) for n in trans.get_feature_names_out(cols)]
    except Exception:  # noqa: BLE001 - transformers without names fall back to perturbation
        try:
            return [str(n) for n in trans.get_feature_names_out()]
        except Exception:  # noqa: BLE001
            return None


def _map_block(
    trans: Any, cols: list[str], out: slice, core: Any, probe: pd.DataFrame
) -> tuple[np.ndarray, str | None]:
    n_out = out.stop - out.start
    if len(cols) == 1:
        return np.ones((n_out, 1)), None
    if trans == "passthrough" and n_out == len(cols):
        return np.eye(n_out), None
    names = _names_out(trans, cols) if trans != "passthrough" else list(cols)
    if names is not None and len(names) == n_out:
        owner = [_owner(n, cols) for n in names]
        if all(o is not None for o in owner):
            block = np.zeros((n_out, len(cols)))
            block[np.arange(n_out), owner] = 1.0
            return block, None

    def transform(df: pd.DataFrame) -> np.ndarray:
        return _dense(core.transform(df))[:, out]

    base = transform(probe)
    return (
        _perturbation_block(transform, base, probe, cols),
        "mapped back by perturbation",
    )


def _owner(name: str, cols: list[str]) -> int | None:
    if name in cols:
        return cols.index(name)
    # The longest matching prefix wins: "age_band_18-25" belongs to age_band, not age.
    best, best_len = None, -1
    for j, col in enumerate(cols):
        if name.startswith(col + "_") and len(col) > best_len:
            best, best_len = j, len(col)
    return best


def _perturbation_block(
    transform: Any, base: np.ndarray, probe: pd.DataFrame, cols: list[str]
) -> np.ndarray:
    changed = np.zeros((base.shape[1], len(cols)), dtype=bool)
    n = len(probe)
    shift = max(1, n // 2)
    for j, col in enumerate(cols):
        moved = probe.copy()
        moved[col] = np.roll(probe[col].to_numpy(), shift)
        after = transform(moved)
        changed[:, j] = ((after != base) & ~(np.isnan(base) & np.isnan(after))).any(axis=0)
    block = changed.astype(float)
    counts = block.sum(axis=1, keepdims=True)
    # An output no probe moved (a category absent from the probe) is shared by the group.
    block[counts[:, 0] == 0] = 1.0
    return block / block.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Model-agnostic explainer


class _Codec:
    """Numeric codes for every input column, so shap's maskers can mix rows of any dtype."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes.to_dict()
        self.uniques: dict[str, np.ndarray] = {}
        for col in self.columns:
            if not _is_numeric(frame[col]):
                _, uniques = pd.factorize(frame[col], use_na_sentinel=True)
                # Code -1 (missing) indexes the appended None.
                self.uniques[col] = np.append(np.asarray(uniques, dtype=object), None)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for j, col in enumerate(self.columns):
            if col in self.uniques:
                known = pd.Index(self.uniques[col][:-1])
                out[:, j] = known.get_indexer(frame[col])
            else:
                out[:, j] = frame[col].to_numpy(dtype=float, na_value=np.nan)
        return out

    def decode(self, x: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, col in enumerate(self.columns):
            if col in self.uniques:
                data[col] = self.uniques[col][x[:, j].astype(np.int64)]
            else:
                values = x[:, j]
                dtype = self.dtypes[col]
                if dtype.kind in "iub" and not np.isnan(values).any():
                    values = values.astype(dtype)
                data[col] = values
        return pd.DataFrame(data, columns=self.columns)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def _build_permutation(
    *,
    model: Any,
    flavor: str,
    features: list[str],
    sample: pd.DataFrame,
    background: pd.DataFrame,
    target: Target,
    permutations: int,
    seed: int,
    reason: str | None,
    uri: str,
) -> ModelExplainer:
    import shap

    codec = _Codec(pd.concat([sample.loc[:, features], background.loc[:, features]]))

    def predict(x: np.ndarray) -> np.ndarray:
        frame = codec.decode(np.atleast_2d(x))
        if flavor != "sklearn":
            out = np.asarray(model.predict(frame))
            try:
                return out.astype(float).reshape(len(frame), -1)[:, 0]
            except (TypeError, ValueError):
                raise GateInputError(
                    f"model {uri} predicts non-numeric values through pyfunc; log it with the "
                    "sklearn flavor so its probabilities can be explained"
                ) from None
        if target.task == "regression":
            return np.asarray(model.predict(frame), dtype=float)
        if not callable(getattr(model, "predict_proba", None)):
            return np.asarray(model.decision_function(frame), dtype=float)
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        return proba[:, target.pos_index] if target.task == "binary" else proba

    bg = codec.encode(background)
    explainer = shap.PermutationExplainer(
        predict, shap.maskers.Independent(bg, max_samples=len(bg)), seed=seed
    )
    max_evals = permutations * (2 * len(features) + 1)

    def fn(rows: pd.DataFrame) -> np.ndarray:
        x = codec.encode(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = explainer(x, max_evals=max_evals, silent=True).values
        return normalise(values, target=_single(target), n_rows=len(rows), n_cols=len(features))

    # The first call compiles shap's numba kernels (seconds): done here, so that the pilot batch
    # that sizes the sample measures explaining, not compiling.
    fn(sample.iloc[:1])
    units = "probability" if target.task != "regression" else "output"
    return ModelExplainer(
        kind="permutation",
        description=f"PermutationExplainer (model-agnostic, {permutations} permutation(s) per "
        f"row, {len(bg)} background rows)",
        units=units,
        features=list(features),
        target=target,
        fallback_reason=reason,
        _fn=fn,
    )


def _single(target: Target) -> Target:
    # The agnostic predict function already returns the positive class only.
    if target.task == "binary":
        return Target("regression", target.classes, None, target.outputs)
    return target
