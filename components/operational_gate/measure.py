"""Requests to the model servers, and the interleaved measurement of their latencies.

Latency is measured on the client, as a caller of the model sees it: the wall clock
(``time.perf_counter``) around one ``requests`` call on a persistent keep-alive connection
(``requests.Session``), from sending the V2 inference request to having its JSON answer. The
request body is encoded before the clock starts. Warm-up requests come first and are not
recorded. Each round then alternates request by request between the candidate and the champion
(single rows, then batches), so a slow moment of the machine hits both models alike and the
per-round ratio stays fair.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import requests

from quality_gates.components.operational_gate.policy import Measurement
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.serving.mlserver import ModelServer, server_error


def _datatype(column: pd.Series) -> tuple[str, list]:
    """The V2 datatype of a column and its values as JSON-ready Python objects."""
    if pd.api.types.is_bool_dtype(column):
        return "BOOL", column.astype(bool).tolist()
    if pd.api.types.is_integer_dtype(column):
        return "INT64", column.astype("int64").tolist()
    if pd.api.types.is_float_dtype(column):
        return "FP64", column.astype("float64").tolist()
    return "BYTES", column.astype(str).tolist()


def encode_rows(frame: pd.DataFrame) -> bytes:
    """Encode rows as one V2 inference request with MLServer's pandas codec.

    One input per column (its V2 datatype; text as ``BYTES`` decoded to ``str``), the request
    marked ``content_type: pd``, which both the MLflow and the scikit-learn runtimes decode to
    a DataFrame with the columns' names, as KServe's V2 clients send tabular rows.

    Args:
        frame: The model's input columns, without missing values.

    Returns:
        The JSON body.
    """
    inputs = []
    for name in frame.columns:
        datatype, values = _datatype(frame[name])
        entry = {"name": str(name), "shape": [len(frame)], "datatype": datatype, "data": values}
        if datatype == "BYTES":
            entry["parameters"] = {"content_type": "str"}
        inputs.append(entry)
    return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()


@dataclass(frozen=True)
class Payloads:
    """The encoded requests of one run (the same rows for both models).

    Attributes:
        single: Single-row request bodies, cycled through.
        batch: Batch request bodies.
        batch_size: Rows per batch request.
    """

    single: list[bytes]
    batch: list[bytes]
    batch_size: int


def payloads(frame: pd.DataFrame, *, batch_size: int, source: str) -> Payloads:
    """Build the request bodies from the evaluation rows the model takes.

    Args:
        frame: The model's input columns.
        batch_size: Rows per batch request.
        source: The data's URI, for messages.

    Returns:
        Up to 64 single-row bodies and up to 8 batch bodies, from complete rows.

    Raises:
        GateInputError: When no row is complete (JSON has no NaN).
    """
    complete = frame.dropna().reset_index(drop=True)
    if complete.empty:
        raise GateInputError(
            f"no row of {source} has every input column filled, so no request can be built; "
            "give the operational gate data with complete rows"
        )
    single = [encode_rows(complete.iloc[[i]]) for i in range(min(64, len(complete)))]
    reps = -(-batch_size * 8 // len(complete))
    pool = pd.concat([complete] * reps, ignore_index=True)
    batch = [
        encode_rows(pool.iloc[i * batch_size : (i + 1) * batch_size])
        for i in range(min(8, len(pool) // batch_size))
    ]
    return Payloads(single=single, batch=batch, batch_size=batch_size)


def timed_infer(server: ModelServer, body: bytes, *, rows: int) -> float:
    """Send one inference request; return its wall-clock seconds.

    Raises:
        GateInputError: A failed or non-200 request, naming it (never its data).
    """
    what = f"POST /v2/models/{server.name}/infer ({'1 row' if rows == 1 else f'batch of {rows}'})"
    started = time.perf_counter()
    try:
        answer = server.http.post(
            f"{server.url}/v2/models/{server.name}/infer",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=server.request_timeout_s,
        )
        if answer.status_code == 200:
            answer.json()  # the answer is read and decoded inside the timed span
    except requests.Timeout:
        raise GateInputError(
            f"{what} took longer than {server.request_timeout_s:g} s; raise gates.operational."
            "measurement.request_timeout_s or fix the model's speed"
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise GateInputError(f"{what} failed ({type(exc).__name__})") from None
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise GateInputError(
            f"{what} returned {answer.status_code} ({server_error(answer)}): the {server.name} "
            "model fails on the evaluation rows as KServe would serve them"
        )
    return elapsed


@dataclass
class Timings:
    """Latencies of one model, seconds, one array per round.

    Attributes:
        single: Single-row latencies of each round.
        batch: Batch latencies of each round.
    """

    single: list[np.ndarray] = field(default_factory=list)
    batch: list[np.ndarray] = field(default_factory=list)


def _alternate(
    servers: Sequence[ModelServer], bodies: Sequence[bytes], n: int, rows: int
) -> list[list[float]]:
    """``n`` requests per server, alternating server by server, cycling through the bodies."""
    out: list[list[float]] = [[] for _ in servers]
    for i in range(n):
        body = bodies[i % len(bodies)]
        # Who goes first alternates too, so neither model always follows the other's request.
        order = range(len(servers)) if i % 2 == 0 else reversed(range(len(servers)))
        for k in order:
            out[k].append(timed_infer(servers[k], body, rows=rows))
    return out


def measure(servers: Sequence[ModelServer], load: Payloads, plan: Measurement) -> list[Timings]:
    """Warm up every server, then measure them interleaved, round by round.

    Args:
        servers: The candidate's server first, then the champion's when there is one.
        load: The request bodies.
        plan: Warm-up, rounds and requests per round.

    Returns:
        One :class:`Timings` per server, in the same order.
    """
    _alternate(servers, load.single, plan.warmup_requests, 1)
    if plan.batch_requests_per_round and load.batch:
        _alternate(servers, load.batch, max(1, plan.warmup_requests // 4), load.batch_size)
    timings = [Timings() for _ in servers]
    for _ in range(plan.rounds):
        single = _alternate(servers, load.single, plan.requests_per_round, 1)
        batch = (
            _alternate(servers, load.batch, plan.batch_requests_per_round, load.batch_size)
            if plan.batch_requests_per_round and load.batch
            else [[] for _ in servers]
        )
        for t, s, b in zip(timings, single, batch, strict=True):
            t.single.append(np.asarray(s))
            t.batch.append(np.asarray(b))
    return timings
