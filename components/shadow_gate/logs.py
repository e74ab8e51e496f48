"""Reading a request log: a table of logged requests, or KServe payload-logger events.

Two forms, one result (:class:`RequestLog`: one row per request, production's answer beside it):

* **A table** (Parquet / CSV, read by the run template's loader so the digest is the file's):
  a ``request_id`` column, the model's input columns, production's score and/or decision, and
  optional segment, ``latency_ms`` and ``error`` columns. A row whose production columns are all
  empty is a request without an answer: counted, never compared.
* **KServe payload-logger events** (JSON Lines, ``.jsonl`` / ``.ndjson``, optionally gzipped):
  the logger (``pkg/logger`` of kserve/kserve) sends one CloudEvent per request
  (``type`` ``org.kubeflow.serving.inference.request``) and, for an HTTP 200 answer, one per
  response (``...inference.response``), both with the same CloudEvent ``id`` (the request's
  ``Ce-Id`` header, else a new UUID). A line may be a structured CloudEvent (``id``, ``type``,
  ``time``, ``data`` or ``data_base64``), the binary mode's headers beside the body (``ce-id``,
  ``ce-type``, ``ce-time``, and ``data`` or ``body``), or the logger store's record (``Id``,
  ``ReqType``, ``Bytes`` in base64). Bodies are Open Inference Protocol v2 (``inputs`` /
  ``outputs``: named tensors) or v1 (``instances`` / ``predictions``). Requests are joined to
  responses by id; requests without a response and responses without a request are counted.

Decoding JSON is one call per event (the format is one document per event); everything after
it is done on whole columns.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from quality_gates.components.shadow_gate.policy import KServeOutputs, LogColumns
from quality_gates.shared.contracts.errors import GateInputError

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
#: Column names of the table built from KServe events.
ID, SCORE, DECISION, LATENCY = "request_id", "production_score", "production_decision", "latency_ms"
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_DECISION_NAMES = ("predict", "predictions", "label", "labels", "output-0", "output_0")
_SCORE_NAMES = ("predict_proba", "probabilities", "probability", "scores")


@dataclass
class RequestLog:
    """The logged traffic, one row per request.

    Attributes:
        frame: Every logged request (answered or not), every column.
        request_id: Column of the request ids.
        score: Column of production's positive-class probability, or None.
        decision: Column of production's decision, or None.
        latency_ms: Column of production's latency, or None.
        error: Column of production's error flag, or None.
        answered: Per row: production's answer is there.
        source: The log's URI, for messages.
        form: ``table`` or ``kserve``.
        join: The join statistics for the report.
    """

    frame: pd.DataFrame
    request_id: str
    score: str | None
    decision: str | None
    latency_ms: str | None
    error: str | None
    answered: np.ndarray
    source: str
    form: str
    join: dict[str, int] = field(default_factory=dict)


def is_event_log(uri: str) -> bool:
    """Whether the log at ``uri`` is JSON Lines of events (by its name), not a table.

    Args:
        uri: The log's path or URI.

    Returns:
        True for ``.jsonl``, ``.ndjson`` and ``.json``, gzipped or not.
    """
    name = uri.lower().removesuffix(".gz")
    return name.endswith(_JSONL_SUFFIXES)


def read_bytes(uri: str) -> tuple[bytes, str]:
    """Read an event log's bytes (local, ``file://`` or an fsspec URI) and their digest.

    Args:
        uri: Where the log is.

    Returns:
        The decompressed bytes and ``sha256:<hex>`` of the bytes as stored.

    Raises:
        GateInputError: The log is missing, unreadable or empty.
    """
    scheme = urlparse(uri).scheme
    try:
        if scheme in ("", "file"):
            path = Path(url2pathname(urlparse(uri).path)) if scheme else Path(uri)
            if not path.is_file():
                raise GateInputError(
                    f"request log {uri} does not exist; check the path or the pipeline input"
                )
            raw = path.read_bytes()
        else:
            import fsspec

            with fsspec.open(uri, "rb") as fh:
                raw = fh.read()
    except GateInputError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise GateInputError(
            f"cannot read request log {uri} ({type(exc).__name__}); check the path and access"
        ) from None
    if not raw:
        raise GateInputError(f"request log {uri} is empty (0 bytes); it holds no request")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise GateInputError(f"cannot decompress request log {uri}: {exc}") from None
    return raw, digest


# --------------------------------------------------------------------------------------------
# Tables


def _named(frame: pd.DataFrame, column: str | None, role: str, uri: str) -> str | None:
    if column is None:
        return None
    if column not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:8]))
        raise GateInputError(
            f"request log {uri} has no {role} column '{column}' (columns: {shown}, ...); fix "
            f"gates.shadow.columns or the log"
        )
    return column


def check_ids(ids: pd.Series, uri: str) -> None:
    """Refuse missing or duplicate request ids (counted, never quoted).

    Args:
        ids: The request-id column.
        uri: The log, for messages.

    Raises:
        GateInputError: Some id is empty or appears twice.
    """
    missing = ids.isna().to_numpy()
    if missing.any():
        raise GateInputError(
            f"{int(missing.sum())} request(s) of {uri} have no request id (first at row "
            f"{int(np.argmax(missing))}, 0-based); every logged request needs its id"
        )
    dup = ids.duplicated(keep="first").to_numpy()
    if dup.any():
        raise GateInputError(
            f"request log {uri} holds {int(dup.sum())} duplicate request id(s) (first repeat at "
            f"row {int(np.argmax(dup))}, 0-based); deduplicate the log (a request logged twice "
            "would be counted twice)"
        )


def _optional(frame: pd.DataFrame, cols: LogColumns, name: str, uri: str) -> str | None:
    """An optional column: used when present; named explicitly, it must be there."""
    column = getattr(cols, name)
    if column is None:
        return None
    if name in cols.model_fields_set:
        return _named(frame, column, name, uri)
    return column if column in frame.columns else None


def table_log(frame: pd.DataFrame, cols: LogColumns, *, uri: str) -> RequestLog:
    """A tabular request log with its column roles checked.

    Args:
        frame: The table as read.
        cols: The policy's column roles.
        uri: The log, for messages.

    Returns:
        The log; a row is answered when production's decision (or, without one, its score) is
        present.

    Raises:
        GateInputError: No request-id column, missing or duplicate ids, no production
            prediction column, or a named column the log lacks.
    """
    request_id = _named(frame, cols.request_id, "request_id", uri)
    check_ids(frame[request_id], uri)
    if cols.score is None and cols.decision is None:
        raise GateInputError(
            f"gates.shadow.columns names no production prediction column for {uri}; set "
            "columns.score (production's probability) and/or columns.decision"
        )
    score = _named(frame, cols.score, "production score", uri)
    decision = _named(frame, cols.decision, "production decision", uri)
    for segment in cols.segments:
        _named(frame, segment, "segment", uri)
    judged = decision or score
    answered = frame[judged].notna().to_numpy()
    return RequestLog(
        frame=frame,
        request_id=request_id,  # type: ignore[arg-type]
        score=score,
        decision=decision,
        latency_ms=_optional(frame, cols, "latency_ms", uri),
        error=_optional(frame, cols, "error", uri),
        answered=answered,
        source=uri,
        form="table",
        join={"requests": len(frame), "without_response": int((~answered).sum())},
    )


# --------------------------------------------------------------------------------------------
# KServe payload-logger events


@dataclass
class _Event:
    line: int
    id: str
    kind: str
    time: str | None
    body: dict[str, Any]


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    """The event's JSON payload, whichever of the shapes carries it."""
    if "data_base64" in doc:
        raw: Any = base64.b64decode(doc["data_base64"], validate=True)
    elif "bytes" in doc:
        raw = base64.b64decode(doc["bytes"], validate=True)
    else:
        raw = doc.get("data", doc.get("body"))
    if isinstance(raw, (bytes, str)):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise ValueError("payload is not a JSON object")
    return raw


def _event(line: int, text: bytes) -> _Event:
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    # Binary-mode headers (Ce-Id), structured attributes (id) and the store's record (Id).
    doc = {str(k).lower().removeprefix("ce-"): v for k, v in doc.items()}
    kind = doc.get("type", doc.get("reqtype"))
    if kind not in (REQUEST_TYPE, RESPONSE_TYPE) or not doc.get("id"):
        raise ValueError("not an inference request or response event")
    return _Event(line, str(doc["id"]), kind, doc.get("time"), _body(doc))


def _tensor(spec: dict[str, Any]) -> np.ndarray:
    """One v2 tensor as an array of its shape (data may be flat or nested)."""
    data = np.asarray(spec["data"], dtype=object)
    shape = [int(s) for s in spec.get("shape") or [data.size]]
    return data.reshape(shape)


def _rows_of(values: np.ndarray) -> np.ndarray:
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim != 1:
        raise ValueError("tensor is not one value per row")
    return values


def _request_columns(body: dict[str, Any], features: list[str] | None) -> dict[str, np.ndarray]:
    """Input columns of one request body (v2 named tensors, v1 instances)."""
    if "inputs" in body:
        tensors = {str(t["name"]): _tensor(t) for t in body["inputs"]}
        if len(tensors) == 1 and next(iter(tensors.values())).ndim == 2:
            matrix = next(iter(tensors.values()))
            if matrix.shape[1] > 1:
                return _positional(matrix, features)
        return {name: _rows_of(t) for name, t in tensors.items()}
    instances = body["instances"]
    if instances and all(isinstance(i, dict) for i in instances):
        frame = pd.DataFrame.from_records(instances)
        return {str(c): frame[c].to_numpy(dtype=object) for c in frame.columns}
    return _positional(np.asarray(instances, dtype=object), features)


def _positional(matrix: np.ndarray, features: list[str] | None) -> dict[str, np.ndarray]:
    if matrix.ndim != 2 or not features or matrix.shape[1] != len(features):
        raise ValueError("positional inputs without matching feature names")
    return {name: matrix[:, j] for j, name in enumerate(features)}


def _pick(outputs: dict[str, np.ndarray], name: str | None, defaults: tuple[str, ...]):
    if name is not None:
        return outputs[name]
    found = [outputs[n] for n in defaults if n in outputs]
    return found[0] if found else None


def _response_columns(
    body: dict[str, Any], spec: KServeOutputs, positive: int
) -> dict[str, np.ndarray]:
    """Production's decision and/or score from one response body."""
    if "outputs" in body:
        outputs = {str(t["name"]): _tensor(t) for t in body["outputs"]}
        score = _pick(outputs, spec.score_output, _SCORE_NAMES)
        decision = _pick(outputs, spec.decision_output, _DECISION_NAMES)
        if decision is None and score is None and len(outputs) == 1:
            decision = next(iter(outputs.values()))
    else:
        predictions = np.asarray(body["predictions"], dtype=object)
        as_score = predictions.ndim == 2 or spec.v1_predictions == "score"
        score, decision = (predictions, None) if as_score else (None, predictions)
    out: dict[str, np.ndarray] = {}
    if decision is not None:
        out[DECISION] = _rows_of(decision)
    if score is not None:
        out[SCORE] = (
            score[:, positive] if score.ndim == 2 and score.shape[1] > 1 else _rows_of(score)
        )
    if not out:
        raise ValueError("no decision or score output")
    return out


def _parse_events(raw: bytes, uri: str) -> list[_Event]:
    events, bad = [], []
    for line, text in enumerate(raw.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            events.append(_event(line, text))
        except (ValueError, TypeError, KeyError, binascii.Error):
            bad.append(line)
    _refuse_bad(bad, len(events) + len(bad), uri)
    if not events:
        raise GateInputError(f"request log {uri} holds no event; it has no request to compare")
    return events


def _refuse_bad(bad: list[int], total: int, uri: str) -> None:
    if bad:
        raise GateInputError(
            f"{len(bad)} of {total} events of request log {uri} do not parse as KServe "
            f"payload-logger inference events (first at line {bad[0]}); fix or drop them "
            "(see components/shadow_gate/README.md for the shapes read)"
        )


def _by_id(events: list[_Event], kind: str, uri: str) -> dict[str, _Event]:
    chosen = [e for e in events if e.kind == kind]
    out = {e.id: e for e in chosen}
    if len(out) != len(chosen):
        seen: set[str] = set()
        first = next(e.line for e in chosen if e.id in seen or seen.add(e.id))  # type: ignore[func-returns-value]
        raise GateInputError(
            f"request log {uri} holds {len(chosen) - len(out)} duplicate {kind.rsplit('.', 1)[1]} "
            f"event id(s) (first repeat at line {first}); deduplicate the log"
        )
    return out


class _Columns:
    """Column lists grown event by event (padded where an event lacks a column)."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {}
        self.length = 0

    def add(self, columns: dict[str, Any], n: int) -> None:
        for name, values in columns.items():
            self.data.setdefault(name, [None] * self.length).extend(values)
        for values in self.data.values():
            if len(values) < self.length + n:
                values.extend([None] * (self.length + n - len(values)))
        self.length += n


def _joined_rows(
    requests: dict[str, _Event],
    responses: dict[str, _Event],
    *,
    spec: KServeOutputs,
    positive: int,
    features: list[str] | None,
    uri: str,
) -> _Columns:
    cols, bad = _Columns(), []
    for rid, req in requests.items():
        try:
            inputs = _request_columns(req.body, features)
            n = len(next(iter(inputs.values())))
            resp = responses.get(rid)
            answer = {} if resp is None else _response_columns(resp.body, spec, positive)
            if any(len(v) != n for v in (*inputs.values(), *answer.values())):
                raise ValueError("batch sizes differ")
        except (ValueError, TypeError, KeyError, IndexError, StopIteration):
            bad.append(req.line)
            continue
        ids = [rid] if n == 1 else [f"{rid}:{i}" for i in range(n)]
        times = {"_request_time": [req.time] * n}
        times["_response_time"] = [None if resp is None else resp.time] * n
        cols.add({ID: ids, **inputs, **answer, **times}, n)
    _refuse_bad(sorted(bad), len(requests), uri)
    return cols


def _latency(frame: pd.DataFrame) -> pd.DataFrame:
    sent = pd.to_datetime(frame.pop("_request_time"), utc=True, errors="coerce", format="mixed")
    back = pd.to_datetime(frame.pop("_response_time"), utc=True, errors="coerce", format="mixed")
    latency = (back - sent).dt.total_seconds() * 1000.0
    if latency.notna().any():
        frame[LATENCY] = latency
    return frame


def event_log(
    raw: bytes,
    *,
    uri: str,
    spec: KServeOutputs,
    positive: int,
    features: list[str] | None,
) -> RequestLog:
    """The request log of KServe payload-logger events, requests joined to responses by id.

    Args:
        raw: The JSON Lines bytes.
        uri: The log, for messages.
        spec: Where production's answer is in a response.
        positive: Column of the positive class in a probabilities output.
        features: The model's input names, for positional inputs (v1 lists, one v2 matrix).

    Returns:
        One row per request (a batch request gives one row per instance, ids ``<id>:<i>``).

    Raises:
        GateInputError: Events that do not parse (how many, the first one's line), duplicate
            event ids, or no event at all.
    """
    events = _parse_events(raw, uri)
    requests = _by_id(events, REQUEST_TYPE, uri)
    responses = _by_id(events, RESPONSE_TYPE, uri)
    if not requests:
        raise GateInputError(
            f"request log {uri} holds {len(responses)} response event(s) and no request event; "
            "log requests too (the logger's mode: all)"
        )
    cols = _joined_rows(
        requests, responses, spec=spec, positive=positive, features=features, uri=uri
    )
    frame = _latency(pd.DataFrame(cols.data))
    frame = frame.infer_objects()
    for column in (SCORE, DECISION):
        if column not in frame.columns:
            frame[column] = None
    check_ids(frame[ID], uri)
    judged = DECISION if frame[DECISION].notna().any() else SCORE
    answered = frame[judged].notna().to_numpy()
    orphans = len(set(responses) - set(requests))
    return RequestLog(
        frame=frame,
        request_id=ID,
        score=SCORE if frame[SCORE].notna().any() else None,
        decision=DECISION if frame[DECISION].notna().any() else None,
        latency_ms=LATENCY if LATENCY in frame.columns else None,
        error=None,
        answered=answered,
        source=uri,
        form="kserve",
        join={
            "events": len(events),
            "request_events": len(requests),
            "response_events": len(responses),
            "requests": len(frame),
            "without_response": int((~answered).sum()),
            "responses_without_request": orphans,
        },
    )
