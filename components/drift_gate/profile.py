"""The reference profile: the drift gate's reference side, computed once and kept with the model.

A profile is a readable JSON document (``FORMAT``, ``schema_version``) holding, per column, what
the gate needs of the reference and nothing more: for a numeric column its state on the 100
reference-quantile bins (counts and sums per bin, missing rows, sum and sum of squares, min and
max: PSI, the mean shift and the bootstrap are then exactly the full table's) and its CDF grid
(:mod:`.cdf_grid`: Wasserstein and KS exact when the column has at most 4096 distinct values,
otherwise within a bound stored with it); for a categorical column its counts per category (all
of them up to :data:`CATEGORY_LIMIT` distinct ones, else the ``max_categories`` most frequent and
the rest pooled, which is what the comparison keeps apart anyway).

Profiles of shards counted on one layout (:func:`layout_of` of the whole reference, or of a
sample of it) merge by addition (:meth:`ReferenceProfile.merge`), counts exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.drift_gate import cdf_grid, stats
from quality_gates.components.drift_gate.policy import DriftPolicy
from quality_gates.shared.contracts.errors import GateInputError

FORMAT = "kfp-quality-gates.drift-profile"
SCHEMA_VERSION = 1
#: A categorical column with more distinct reference values keeps only the compared ones.
CATEGORY_LIMIT = 10_000
#: Where a profile lives among the artifacts of a model version's run.
ARTIFACT = "quality_gates/drift_profile/reference.profile.json"
#: Model version tag holding the stored profile's digest (under ``quality_gates.``).
DIGEST_TAG = "drift_profile_digest"
BUILD_HINT = "rebuild it: quality-gates drift profile --data <reference> --policy <policy.yaml>"


@dataclass(frozen=True)
class NumericProfile:
    """A numeric reference column: its bin state and its CDF grid."""

    state: stats.NumericState
    grid: cdf_grid.CdfGrid

    def merge(self, other: NumericProfile) -> NumericProfile:
        """Add another shard's counts (same layout)."""
        return NumericProfile(self.state.merge(other.state), self.grid.merge(other.grid))


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical reference column: counts per kept category, and the rows pooled."""

    state: stats.CategoricalState
    rest: int = 0
    rest_distinct: int = 0

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        """Add another shard's counts (untruncated shards; truncate after merging)."""
        if self.rest or other.rest:
            raise ValueError("truncated category counts cannot be merged exactly")
        return CategoricalProfile(self.state.merge(other.state))


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything the drift gate reads of a reference table.

    Attributes:
        columns: Profile of each column, in the table's order.
        rows: Rows of the table.
        settings: What the statistics depend on (bins, grid sizes, ``max_categories``).
        source: ``{"uri", "sha256"}`` of the table it was built from.
        skipped: Columns left out (the policy's label, prediction, score and ``data.exclude``).
    """

    columns: dict[str, NumericProfile | CategoricalProfile]
    rows: int
    settings: dict[str, int]
    source: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def merge(self, other: ReferenceProfile) -> ReferenceProfile:
        """The profile of two shards together (counted on the same layout)."""
        if list(self.columns) != list(other.columns) or self.settings != other.settings:
            raise ValueError("profiles of different columns or settings cannot be merged")
        merged = {c: p.merge(other.columns[c]) for c, p in self.columns.items()}  # type: ignore[arg-type]
        return ReferenceProfile(merged, self.rows + other.rows, self.settings, {}, self.skipped)


def settings_for(policy: DriftPolicy) -> dict[str, int]:
    """The settings a profile records and the gate checks against the running code and policy."""
    return {
        "fine_bins": stats.FINE_BINS,
        "psi_bins": stats.PSI_BINS,
        "max_categories": policy.max_categories,
        "exact_distinct": cdf_grid.EXACT_DISTINCT,
        "rank_points": cdf_grid.RANK_POINTS,
        "value_points": cdf_grid.VALUE_POINTS,
        "category_limit": CATEGORY_LIMIT,
    }


def profiled_columns(frame: pd.DataFrame, policy: DriftPolicy, skip: set[str]) -> list[str]:
    """The columns a profile holds: those the gate compares by default, or the policy's list."""
    from quality_gates.components.drift_gate.core import drift_columns

    return drift_columns(list(frame.columns), policy, skip=skip)


def layout_of(frame: pd.DataFrame, columns: list[str]) -> dict[str, tuple | None]:
    """The bin edges and grid points of each numeric column (None for a categorical one).

    Args:
        frame: The whole reference (or a sample of it, for shards counted elsewhere).
        columns: The profiled columns.

    Returns:
        ``{column: (edges, points)}``; every shard is counted on this.
    """
    from quality_gates.components.drift_gate.core import is_numeric

    out: dict[str, tuple | None] = {}
    for column in columns:
        if not is_numeric(frame[column]):
            out[column] = None
            continue
        v = _finite_sorted(frame[column])[0]
        out[column] = (stats.reference_edges(v), cdf_grid.grid_points(v))
    return out


def _finite_sorted(values: pd.Series) -> tuple[np.ndarray, int]:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.sort(v[np.isfinite(v)])
    return finite, v.size - finite.size


def count_profile(
    frame: pd.DataFrame, layout: dict[str, tuple | None], settings: dict[str, int]
) -> ReferenceProfile:
    """Count one table or shard on a layout (categories untruncated, so shards merge).

    Args:
        frame: The rows.
        layout: From :func:`layout_of`.
        settings: From :func:`settings_for`.

    Returns:
        The untruncated profile of these rows.
    """
    columns: dict[str, NumericProfile | CategoricalProfile] = {}
    for column, spec in layout.items():
        if spec is None:
            columns[column] = CategoricalProfile(stats.count_categorical(frame[column]))
            continue
        v, missing = _finite_sorted(frame[column])
        columns[column] = NumericProfile(
            stats.count_sorted(v, spec[0], missing), cdf_grid.count_grid_sorted(v, spec[1])
        )
    return ReferenceProfile(columns, len(frame), settings)


def truncated(profile: ReferenceProfile) -> ReferenceProfile:
    """Keep at most :data:`CATEGORY_LIMIT` categories per column (else the compared top ones)."""
    keep = profile.settings["max_categories"]
    columns = dict(profile.columns)
    for column, p in profile.columns.items():
        if not isinstance(p, CategoricalProfile) or p.state.categories.size <= CATEGORY_LIMIT:
            continue
        s = p.state
        # The order the comparison keeps categories in: most frequent first, then by name.
        top = np.sort(np.lexsort((s.categories, -s.counts))[:keep])
        rest = int(s.counts.sum() - s.counts[top].sum())
        state = stats.CategoricalState(s.categories[top], s.counts[top], s.missing)
        columns[column] = CategoricalProfile(state, rest, int(s.categories.size - top.size))
    return ReferenceProfile(
        columns, profile.rows, profile.settings, profile.source, profile.skipped
    )


def build_profile(
    frame: pd.DataFrame, policy: DriftPolicy, *, skip: set[str], source: dict[str, str]
) -> ReferenceProfile:
    """Profile a whole reference table.

    Args:
        frame: The reference table.
        policy: The drift section (``columns``, ``ignore``, ``max_categories``).
        skip: The label, prediction, score and ``data.exclude`` columns.
        source: ``{"uri", "sha256"}`` of the table.

    Returns:
        The profile.
    """
    if len(frame) == 0:
        raise GateInputError("the reference data has no rows; a profile needs rows")
    columns = profiled_columns(frame, policy, skip)
    counted = count_profile(frame, layout_of(frame, columns), settings_for(policy))
    skipped = [c for c in frame.columns if c not in columns]
    return truncated(
        ReferenceProfile(counted.columns, counted.rows, counted.settings, source, skipped)
    )


# --------------------------------------------------------------------------------------------
# The document


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _numeric_doc(p: NumericProfile) -> dict[str, Any]:
    s, g = p.state, p.grid
    return {
        "kind": "numeric",
        "count": s.n,
        "missing": s.missing,
        "sum": s.total,
        "sum_sq": s.total_sq,
        "min": _num(s.low),
        "max": _num(s.high),
        "mean": s.total / s.n if s.n else None,
        "std": _num(s.std),
        "bins": {"edges": s.edges.tolist(), "counts": s.counts.tolist(), "sums": s.sums.tolist()},
        "cdf": {
            "exact": g.exact,
            "wasserstein_bound": g.wasserstein_bound(s.low, s.high) if s.n else 0.0,
            "ks_bound": g.ks_bound(),
            "points": g.points.tolist(),
            "at_or_below": g.at_or_below.tolist(),
            "at": g.at.tolist(),
        },
    }


def _categorical_doc(p: CategoricalProfile) -> dict[str, Any]:
    s = p.state
    return {
        "kind": "categorical",
        "count": s.n + p.rest,
        "missing": s.missing,
        "categories": s.categories.tolist(),
        "counts": s.counts.tolist(),
        "truncated": bool(p.rest_distinct),
        "other_count": p.rest,
        "other_distinct": p.rest_distinct,
    }


def to_json(profile: ReferenceProfile) -> str:
    """The profile as its JSON document (``format`` first, so a reader can tell it by content)."""
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "rows": profile.rows,
        "source": profile.source,
        "settings": profile.settings,
        "skipped": profile.skipped,
        "columns": {
            c: _numeric_doc(p) if isinstance(p, NumericProfile) else _categorical_doc(p)
            for c, p in profile.columns.items()
        },
    }
    # Floats as repr (round-trips exactly): the gate's bins are bit for bit the ones built.
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def _numeric_from(doc: dict[str, Any]) -> NumericProfile:
    bins, cdf = doc["bins"], doc["cdf"]
    edges = np.asarray(bins["edges"], dtype=float)
    counts = np.asarray(bins["counts"], dtype=np.int64)
    points = np.asarray(cdf["points"], dtype=float)
    cum, at = (np.asarray(cdf[k], dtype=np.int64) for k in ("at_or_below", "at"))
    n = int(counts.sum())
    coherent = (
        counts.size == edges.size + 1
        and len(bins["sums"]) == counts.size
        and cum.size == at.size == points.size
        and np.all(np.diff(edges) > 0)
        and np.all(np.diff(points) > 0)
        and n == doc["count"]
        and (cum.size == 0 or cum[-1] <= n)
    )
    if not coherent:
        raise ValueError("inconsistent bins or grid")
    low, high = doc["min"], doc["max"]
    state = stats.NumericState(
        edges,
        counts,
        np.asarray(bins["sums"], dtype=float),
        int(doc["missing"]),
        float(doc["sum"]),
        float(doc["sum_sq"]),
        float("inf") if low is None else float(low),
        float("-inf") if high is None else float(high),
    )
    return NumericProfile(state, cdf_grid.CdfGrid(points, cum, at, n))


def _categorical_from(doc: dict[str, Any]) -> CategoricalProfile:
    cats = np.asarray(doc["categories"], dtype=str)
    counts = np.asarray(doc["counts"], dtype=np.int64)
    if cats.size != counts.size or (cats.size and np.any(cats[1:] <= cats[:-1])):
        raise ValueError("categories and counts do not match")
    state = stats.CategoricalState(cats, counts, int(doc["missing"]))
    return CategoricalProfile(state, int(doc["other_count"]), int(doc["other_distinct"]))


def from_json(data: bytes, *, uri: str) -> ReferenceProfile:
    """Read a profile document.

    Args:
        data: The document's bytes.
        uri: Where it came from, for messages.

    Returns:
        The profile.

    Raises:
        GateInputError: Not a profile, an unknown schema version, or a malformed document; the
            message names the column and the key, never a value.
    """
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GateInputError(f"reference profile {uri} is not valid JSON; {BUILD_HINT}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GateInputError(
            f'{uri} is JSON but not a drift reference profile (no "format": "{FORMAT}"); '
            "pass a profile from quality-gates drift profile, or a CSV/Parquet table"
        )
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GateInputError(
            f"reference profile {uri} has schema_version {version!r}; this kfp-quality-gates "
            f"reads schema_version {SCHEMA_VERSION}; {BUILD_HINT}"
        )
    where = "the header"
    try:
        columns: dict[str, NumericProfile | CategoricalProfile] = {}
        for name, col in doc["columns"].items():
            where = f"column '{name}'"
            kind = col["kind"]
            if kind not in ("numeric", "categorical"):
                raise ValueError("unknown kind")
            columns[name] = _numeric_from(col) if kind == "numeric" else _categorical_from(col)
        where = "the header"
        settings = {str(k): int(v) for k, v in doc["settings"].items()}
        profile = ReferenceProfile(
            columns, int(doc["rows"]), settings, dict(doc["source"]), list(doc["skipped"])
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A KeyError names a schema key, never a value; other exceptions may quote a cell.
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else "inconsistent values"
        raise GateInputError(
            f"reference profile {uri} is malformed ({detail} in {where}); {BUILD_HINT}"
        ) from None
    return profile


def check_settings(profile: ReferenceProfile, policy: DriftPolicy, *, uri: str) -> None:
    """Refuse a profile whose bins or category limit differ from what the gate now computes.

    Raises:
        GateInputError: Naming the first setting that differs.
    """
    wanted = settings_for(policy)
    for key, value in wanted.items():
        built = profile.settings.get(key)
        if built != value:
            source = "the policy's gates.drift" if key == "max_categories" else "this version"
            raise GateInputError(
                f"reference profile {uri} was built with {key} {built}, {source} asks {value}; "
                f"{BUILD_HINT}"
            )


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of a profile's bytes (the reference input's digest in a GateResult)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def looks_like_profile(path: Path) -> bool:
    """A local file is a profile when it is named ``*.json`` or its first bytes say so.

    A KFP artifact has no extension; the document starts with ``{"format": "<FORMAT>"`` (see
    :func:`to_json`), which neither Parquet (``PAR1``) nor a CSV header begins with.
    """
    if path.name.lower().endswith(".json"):
        return True
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        head = fh.read(256).lstrip()
    return head.startswith(b"{") and FORMAT.encode() in head


def read_reference(uri: str, *, tracking_uri: str | None) -> tuple[ReferenceProfile, str] | None:
    """The profile a reference URI names, with its digest; None when the URI names a table.

    Args:
        uri: A profile file (``*.json``, or a file whose content starts as a profile's does),
            or ``models:/<name>/<version>`` / ``models:/<name>@<alias>`` (the profile stored
            with that version by ``quality-gates drift profile --log-to``).
        tracking_uri: MLflow tracking URI for ``models:/`` (default ``MLFLOW_TRACKING_URI``).

    Returns:
        ``(profile, "sha256:<hex> of its bytes")``, or None for a CSV/Parquet table.

    Raises:
        GateInputError: A missing or unreadable profile, or a version without one.
    """
    if uri.startswith("models:/"):
        data, shown = _version_profile(uri, tracking_uri)
    else:
        path = Path(uri[len("file://") :]) if uri.startswith("file://") else Path(uri)
        if "://" in uri and not uri.startswith("file://"):
            if not uri.lower().endswith(".json"):
                return None
            data, shown = _remote_bytes(uri), uri
        elif not looks_like_profile(path):
            return None
        else:
            if not path.is_file():
                raise GateInputError(f"reference profile {uri} does not exist; check the path")
            data, shown = path.read_bytes(), uri
    return from_json(data, uri=shown), digest_of(data)


def _version_profile(uri: str, tracking_uri: str | None) -> tuple[bytes, str]:
    import tempfile

    from quality_gates.shared.tracking.client import (
        download_version_artifact,
        resolve_tracking_uri,
    )

    tracking = resolve_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="qg-profile-") as tmp:
        local, version_uri = download_version_artifact(
            uri, ARTIFACT, Path(tmp), tracking_uri=tracking
        )
        if local is None:
            raise GateInputError(
                f"{uri} ({version_uri}) has no drift reference profile; store one with "
                f"quality-gates drift profile --data <reference> --policy <policy.yaml> "
                f"--log-to {version_uri}"
            )
        return local.read_bytes(), version_uri


def _remote_bytes(uri: str) -> bytes:
    try:
        import fsspec

        with fsspec.open(uri, "rb") as fh:
            return fh.read()
    except ImportError:
        raise GateInputError(
            f"reading the profile {uri} needs fsspec; install kfp-quality-gates[remote]"
        ) from None
    except FileNotFoundError:
        raise GateInputError(f"reference profile {uri} does not exist; check the URI") from None
    except Exception as exc:  # noqa: BLE001 - backends raise their own types (auth, network)
        raise GateInputError(
            f"cannot read the profile {uri}: {type(exc).__name__}; check the URI and the "
            "storage credentials"
        ) from None


def log_to_version(path: Path, uri: str, *, digest: str, tracking_uri: str | None) -> str:
    """Store a profile file with a model version (artifact of its run, digest as a version tag).

    Returns:
        ``models:/<name>/<version>`` it was stored with.
    """
    from quality_gates.shared.tracking.client import log_version_artifact, resolve_tracking_uri

    folder, _, name = ARTIFACT.rpartition("/")
    if path.name != name:  # the gate looks for the artifact by its fixed name
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="qg-profile-") as tmp:
            named = Path(tmp) / name
            shutil.copyfile(path, named)
            return log_to_version(named, uri, digest=digest, tracking_uri=tracking_uri)
    return log_version_artifact(
        uri,
        path,
        artifact_path=folder,
        tag=DIGEST_TAG,
        tag_value_=digest,
        tracking_uri=resolve_tracking_uri(tracking_uri),
    )
