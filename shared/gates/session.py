"""What one process loads once and every gate reuses: policy, tables, models, predictions.

``quality-gates check all`` runs every gate in one process: the session parses the policy once,
reads (and hashes) each table once, loads each model once and predicts once per model and table,
so four gates cost one load, not four. In a pipeline each task is its own process with its own
session. Gates receive shared objects: they must not mutate a frame in place (``assign`` copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quality_gates.shared.io.data import EvalData, read_table, resolve_columns
from quality_gates.shared.io.models import (
    LoadedModel,
    Predictions,
    load_champion,
    load_model,
    model_input,
    predict,
)
from quality_gates.shared.policy.schema import DataSpec, Policy, parse_policy


@dataclass
class Session:
    """Caches of one process; keys are what was asked for (URIs), values what was loaded.

    Failures are not cached: a gate that hits a bad file raises, and the next gate re-reads it
    and raises the same one-line error.
    """

    _policies: dict[tuple[str, str], Policy] = field(default_factory=dict)
    _tables: dict[str, tuple[pd.DataFrame, str]] = field(default_factory=dict)
    _models: dict[tuple[str, str | None], LoadedModel] = field(default_factory=dict)
    _champions: dict[tuple, tuple[LoadedModel | None, dict[str, Any]]] = field(default_factory=dict)
    _predictions: dict[tuple, Predictions] = field(default_factory=dict)

    def policy(self, text: str, source: str) -> Policy:
        """Return the parsed, validated policy (parsed once per text)."""
        key = (text, source)
        if key not in self._policies:
            self._policies[key] = parse_policy(text, source=source)
        return self._policies[key]

    def table(self, uri: str) -> tuple[pd.DataFrame, str]:
        """Return a table and the digest of its bytes (read once per URI)."""
        if uri not in self._tables:
            self._tables[uri] = read_table(uri)
        return self._tables[uri]

    def eval_data(
        self, uri: str, spec: DataSpec, *, label: str | None, require_label: bool
    ) -> EvalData:
        """Return the evaluation table with its column roles resolved for one gate."""
        frame, digest = self.table(uri)
        resolved = resolve_columns(
            frame, spec, label=label, require_label=require_label, source=str(uri)
        )
        return EvalData(frame, *resolved, digest=digest, source=str(uri))

    def model(self, uri: str, tracking_uri: str | None) -> LoadedModel:
        """Return a loaded model with its digest (fetched and hashed once per URI)."""
        key = (uri, tracking_uri)
        if key not in self._models:
            self._models[key] = load_model(uri, tracking_uri=tracking_uri)
        return self._models[key]

    def champion(self, **lookup: Any) -> tuple[LoadedModel | None, dict[str, Any]]:
        """Return the model holding a champion alias (looked up once per alias, name and URI).

        Args:
            **lookup: The keyword arguments of
                :func:`~quality_gates.shared.io.models.load_champion`.

        Returns:
            The champion (None when no version holds the alias) and its reference.
        """
        # The section only words the error for a missing name (never cached): the gates of one
        # process that compare with the same alias share one lookup and one download.
        key = tuple(sorted((k, v) for k, v in lookup.items() if k != "section"))
        if key not in self._champions:
            loaded, ref = load_champion(**lookup)
            self._champions[key] = (loaded, dict(ref))
        loaded, ref = self._champions[key]
        return loaded, dict(ref)

    def predictions(self, model: LoadedModel, data: EvalData) -> Predictions:
        """Return one model's predictions on one table (predicted once per pair)."""
        key = (model.digest, model.uri, data.digest, data.label, data.prediction, data.score)
        if key not in self._predictions:
            self._predictions[key] = predict(model, model_input(model, data))
        return self._predictions[key]
