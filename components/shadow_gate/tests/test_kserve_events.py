"""KServe payload-logger events (JSON Lines) as the request log, in the shapes the logger sends.

The shapes follow kserve/kserve ``pkg/logger``: one CloudEvent per request
(``org.kubeflow.serving.inference.request``) and one per HTTP 200 response
(``...inference.response``) with the same ``id``; the extension attributes
``inferenceservicename``, ``namespace``, ``component``, ``endpoint``; the body is the request's
or the response's bytes (Open Inference Protocol v2 or v1). Three ways a line can carry them:
a structured CloudEvent, the binary mode's ``ce-*`` headers beside the body, and the logger
store's record (``Id``, ``ReqType``, ``Bytes`` base64).
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from quality_gates.components.shadow_gate.tests.traffic import FEATURES, NUMERIC
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check

REQ, RESP = "org.kubeflow.serving.inference.request", "org.kubeflow.serving.inference.response"
ATTRS = {"inferenceservicename": "credit", "namespace": "risk", "component": "predictor",
         "endpoint": "default", "source": "http://localhost:9081/"}  # fmt: skip


def _v2_request(row) -> dict:
    inputs = [{"name": c, "shape": [1], "datatype": "FP64", "data": [float(row[c])]}
              for c in NUMERIC]  # fmt: skip
    inputs.append({"name": "region", "shape": [1], "datatype": "BYTES", "data": [row["region"]]})
    return {"id": row["request_id"], "inputs": inputs}


def _v2_response(score: float) -> dict:
    return {
        "model_name": "credit",
        "outputs": [
            {"name": "predict", "shape": [1], "datatype": "INT64", "data": [int(score >= 0.5)]},
            {
                "name": "predict_proba",
                "shape": [1, 2],
                "datatype": "FP64",
                "data": [1.0 - score, score],
            },  # fmt: skip
        ],
    }


def _structured(rid: str, kind: str, body: dict, time: str) -> dict:
    return {"specversion": "1.0", "id": rid, "type": kind, "time": time,
            "datacontenttype": "application/json", **ATTRS, "data": body}  # fmt: skip


def _binary(rid: str, kind: str, body: dict, time: str) -> dict:
    headers = {f"Ce-{k.capitalize()}": v for k, v in ATTRS.items()}
    return {"Ce-Id": rid, "Ce-Type": kind, "Ce-Time": time, "Ce-Specversion": "1.0", **headers,
            "Content-Type": "application/json", "data": json.dumps(body)}  # fmt: skip


def _store(rid: str, kind: str, body: dict, time: str) -> dict:
    raw = base64.b64encode(json.dumps(body).encode()).decode()
    return {"Url": "s3://logs/credit", "Bytes": raw, "ContentType": "application/json",
            "ReqType": kind, "Id": rid, "InferenceService": "credit", "Namespace": "risk",
            "Component": "predictor", "Endpoint": "default"}  # fmt: skip


SHAPES = (_structured, _binary, _store)


def _events(log, *, without_response: set[int], shapes=SHAPES) -> list[dict]:
    lines = []
    for i, row in enumerate(log.to_dict("records")):
        shape = shapes[i % len(shapes)]
        lines.append(shape(row["request_id"], REQ, _v2_request(row), "2026-12-01T10:00:00.000Z"))
        if i not in without_response:
            body = _v2_response(row["prod_score"])
            lines.append(shape(row["request_id"], RESP, body, "2026-12-01T10:00:00.025Z"))
    return lines


def _write(tmp_path, lines, name="events.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line)
                              for line in lines) + "\n")  # fmt: skip
    return path


def _policy(**section) -> str:
    rules = {"segment_flip_rate": {"max": 0.1}, "max_flip_rate": {"max": 0.25}, **section}
    shadow = {"columns": {"segments": ["region"]}, **rules}
    return yaml.safe_dump({"data": {"positive_label": 1}, "gates": {"shadow": shadow}})


def _run(traffic, path, model=None, **section):
    return check("shadow", data_uri="", model_uri=str(model or traffic.candidate_path),
                 request_log_uri=str(path), policy_text=_policy(**section))  # fmt: skip


def test_events_are_joined_by_id_and_judged_like_the_table(traffic, tmp_path):
    log = traffic.log.iloc[:3000]
    missing = {4, 100, 2000}
    events = _events(log, without_response=missing)
    events.append(_structured("orphan-1", RESP, _v2_response(0.3), "2026-12-01T10:00:01Z"))
    result = _run(traffic, _write(tmp_path, events))
    assert result.inputs["request_log"].startswith("sha256:")
    join = result.details["join"]
    assert join["request_events"] == 3000 and join["response_events"] == 3000 - 3 + 1
    assert join["without_response"] == 3 and join["responses_without_request"] == 1
    assert result.metrics["unmatched"] == 3 and result.metrics["n_answered"] == 2997
    answered = log.drop(index=list(missing))
    table = tmp_path / "same.parquet"
    answered.to_parquet(table, index=False)
    same = check("shadow", data_uri="", model_uri=str(traffic.candidate_path),
                 request_log_uri=str(table),
                 policy_text=_policy(columns={"request_id": "request_id", "score": "prod_score",
                                              "segments": ["region"]}))  # fmt: skip
    assert result.metrics["flip_rate"] == pytest.approx(same.metrics["flip_rate"])
    assert result.status == same.status == Status.FAILED
    east = [c for c in result.checks if c.status == Status.FAILED]
    assert [c.name for c in east] == ["flip rate, segment region=East <= 0.1"]
    assert result.metrics["production_latency_p50_ms"] == pytest.approx(25.0)


def test_v1_batches_and_the_production_model_itself(traffic, tmp_path):
    log = traffic.log.iloc[:400]
    lines = []
    for k in range(0, len(log), 4):  # batches of 4 instances, v1 shape
        batch = log.iloc[k : k + 4]
        rid = f"batch-{k}"
        instances = batch[FEATURES].to_dict("records")
        probs = [[1.0 - p, p] for p in batch["prod_score"]]
        lines.append(_structured(rid, REQ, {"instances": instances}, "2026-12-01T10:00:00Z"))
        lines.append(_structured(rid, RESP, {"predictions": probs}, "2026-12-01T10:00:00.1Z"))
    result = _run(
        traffic,
        _write(tmp_path, lines),
        model=traffic.production_path,
        score_shift={"max": 0.05},
        segment_flip_rate={"max": 0.1, "min_size": 50},
    )
    assert result.status == Status.PASSED, result.summary
    assert result.metrics["n_requests"] == 400 and result.metrics["flip_rate"] == 0.0
    assert result.metrics["score_shift_psi"] == pytest.approx(0.0, abs=1e-12)


def test_events_that_do_not_parse_are_counted_with_the_first_line_never_quoted(traffic, tmp_path):
    events = _events(traffic.log.iloc[:200], without_response=set())
    secret = '{"id": "x-1", "type": "' + REQ + '", "data": {"inputs": "Jane Doe 555-0100"'
    events[2] = secret  # truncated JSON at line 3
    events[9] = json.dumps({"id": "x-2", "type": "com.example.other", "data": {}})
    result = _run(traffic, _write(tmp_path, events))
    assert result.status == Status.ERROR
    assert "2 of 400 events" in result.error and "first at line 3" in result.error
    assert "Jane" not in result.error and "\n" not in result.error


def test_duplicate_and_empty_event_logs_are_errors(traffic, tmp_path):
    events = _events(traffic.log.iloc[:200], without_response=set())
    events.append(events[0])
    result = _run(traffic, _write(tmp_path, events, "dup.jsonl"))
    assert result.status == Status.ERROR and "duplicate request event id" in result.error
    assert "req-000000" not in result.error
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "empty" in _run(traffic, empty).error
    only_responses = [e for e in _events(traffic.log.iloc[:50], without_response=set())
                      if e.get("type", e.get("Ce-Type", e.get("ReqType"))) == RESP]  # fmt: skip
    result = _run(traffic, _write(tmp_path, only_responses, "responses.jsonl"))
    assert result.status == Status.ERROR and "no request event" in result.error


def test_a_missing_feature_in_the_events_is_an_error_naming_it(traffic, tmp_path):
    events = _events(traffic.log.iloc[:200], without_response=set(), shapes=(_structured,))
    for e in events:
        if "inputs" in e["data"]:
            e["data"]["inputs"] = [t for t in e["data"]["inputs"] if t["name"] != "credit_score"]
    result = _run(traffic, _write(tmp_path, events))
    assert result.status == Status.ERROR and "credit_score" in result.error
