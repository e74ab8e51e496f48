"""The shadow gate on logged traffic: flips in one segment, identity, inconclusive, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from quality_gates.components.shadow_gate.tests.traffic import FEATURES
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check


def cli(args: list[str]) -> int:
    """The installed command, in its own process (exit code, stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "quality_gates.shared.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def _run(traffic, *, model=None, log=None, **section):
    return check(
        "shadow",
        data_uri="",
        model_uri=str(model or traffic.candidate_path),
        request_log_uri=str(log or traffic.log_path),
        policy_text=traffic.policy(**section),
    )


def _flips(traffic, model) -> np.ndarray:
    """Flips computed here, independently of the gate: decisions at 0.5 on both sides."""
    mine = model.predict_proba(traffic.log[FEATURES])[:, 1] >= 0.5
    return mine != (traffic.log["prod_score"].to_numpy() >= 0.5)


def _by_name(result):
    return {c.name: c for c in result.checks}


def test_refuses_the_candidate_that_flips_decisions_in_one_segment_and_names_it(traffic):
    result = _run(
        traffic,
        max_flip_rate={"max": 0.25},
        segment_flip_rate={"max": 0.1, "min_size": 100},
    )
    assert result.status == Status.FAILED
    failed = [c for c in result.checks if c.status == Status.FAILED]
    assert [c.name for c in failed] == ["flip rate, segment region=East <= 0.1"]
    assert failed[0].decision == "fail" and "region=East" in failed[0].message
    flips = _flips(traffic, traffic.candidate)
    east = (traffic.log["region"] == "East").to_numpy()
    assert failed[0].value == pytest.approx(flips[east].mean())
    assert failed[0].ci_low > 0.1
    assert result.metrics["flip_rate"] == pytest.approx(flips.mean())
    assert result.metrics["flip_rate.region.East"] == pytest.approx(flips[east].mean())
    others = [c for c in result.checks if "segment" in c.name and "East" not in c.name]
    assert len(others) == 4 and all(c.decision == "pass" for c in others)
    assert all(c.details["multiplicity"] == "holm" for c in others)


def test_a_candidate_identical_to_production_passes_with_no_flip(traffic):
    result = _run(
        traffic,
        model=traffic.production_path,
        max_flip_rate={"max": 0.01},
        segment_flip_rate={"max": 0.02},
        min_agreement={"min": 0.99},
        score_shift={"metric": "psi", "max": 0.05},
    )
    assert result.status == Status.PASSED, result.summary
    assert result.metrics["flip_rate"] == 0.0 and result.metrics["agreement"] == 1.0
    assert result.metrics["score_shift_psi"] == pytest.approx(0.0, abs=1e-12)
    assert result.metrics["n_requests"] == len(traffic.log)
    rows = result.details["segments"]
    assert sum(r["requests"] for r in rows) == len(traffic.log)
    assert all(r["flips"] == 0 for r in rows)
    assert result.metrics["production_latency_p50_ms"] == pytest.approx(
        np.percentile(traffic.log["latency_ms"], 50)
    )


def test_the_score_shift_of_the_biased_candidate_is_shown(traffic):
    result = _run(traffic, score_shift={"metric": "psi", "max": 0.02})
    shift = _by_name(result)["score shift: psi <= 0.02"]
    assert shift.decision == "fail" and shift.ci_low > 0.02


def _with_flipped_channel(traffic, tmp_path, *, size: int, flipped: int):
    """Production = the candidate itself, except ``flipped`` decisions in a small channel."""
    log = traffic.log.copy()
    log["channel"] = "web"
    log.loc[log.index[:size], "channel"] = "branch"
    decision = (traffic.candidate.predict_proba(log[FEATURES])[:, 1] >= 0.5).astype(int)
    decision[:flipped] = 1 - decision[:flipped]
    log["prod_decision"] = decision
    path = tmp_path / "channel.csv"
    log.to_csv(path, index=False)
    return path


def test_a_small_segment_near_the_bound_is_inconclusive_and_the_policy_decides(traffic, tmp_path):
    log = _with_flipped_channel(traffic, tmp_path, size=300, flipped=33)
    section = dict(
        columns={"decision": "prod_decision", "segments": ["channel"]},
        segment_flip_rate={"max": 0.1, "min_size": 50},
    )
    blocked = _run(traffic, log=log, **section)
    branch = _by_name(blocked)["flip rate, segment channel=branch <= 0.1"]
    assert branch.value == pytest.approx(0.11)
    assert branch.ci_low < 0.1 < branch.ci_high
    assert branch.decision == "inconclusive" and branch.status == Status.FAILED
    assert branch.details["rows_needed"] > 300 and "requests would decide" in branch.message
    assert blocked.status == Status.FAILED
    warned = _run(traffic, log=log, on_inconclusive="warn", **section)
    assert warned.status == Status.WARNED and warned.passed
    # The same share on many more requests is conclusive: shown to fail at 0.05.
    clear = _with_flipped_channel(traffic, tmp_path, size=3000, flipped=300)
    shown = _run(traffic, log=clear, **{**section, "segment_flip_rate": {"max": 0.05}})
    assert _by_name(shown)["flip rate, segment channel=branch <= 0.05"].decision == "fail"


def test_a_segment_under_min_size_gets_on_small_unless_it_already_fails(traffic, tmp_path):
    few = _with_flipped_channel(traffic, tmp_path, size=20, flipped=1)
    section = dict(
        columns={"decision": "prod_decision", "segments": ["channel"]},
        segment_flip_rate={"max": 0.1, "min_size": 100, "on_small": "block"},
    )
    result = _run(traffic, log=few, **section)
    small = _by_name(result)["flip rate, segment channel=branch <= 0.1"]
    assert small.status == Status.FAILED and "insufficient data" in small.message
    broken = _with_flipped_channel(traffic, tmp_path, size=20, flipped=20)
    section["segment_flip_rate"]["on_small"] = "skip"
    result = _run(traffic, log=broken, **section)
    small = _by_name(result)["flip rate, segment channel=branch <= 0.1"]
    assert small.decision == "fail" and small.value == 1.0


def test_rows_the_candidate_cannot_score_are_counted_not_dropped(traffic, tmp_path):
    log = traffic.log.copy()
    bad = np.zeros(len(log), dtype=bool)
    bad[[5, 77, 78, 4000]] = True
    # A logistic regression without an imputer raises on a missing number: those rows only.
    log.loc[bad, "income"] = np.nan
    path = tmp_path / "nan.parquet"
    log.to_parquet(path, index=False)
    result = _run(
        traffic,
        log=path,
        chunk_rows=1000,
        max_candidate_error_rate={"max": 0.0001},
        max_flip_rate={"max": 0.25},
    )
    assert result.metrics["candidate_errors"] == 4
    assert result.details["candidate_scoring"] == {"chunked": True, "failed_rows_exact": True}
    failed = [c for c in result.checks if c.status == Status.FAILED]
    assert [c.name for c in failed] == ["candidate error rate <= 0.0001"]
    mine = traffic.candidate.predict_proba(traffic.log.loc[~bad, FEATURES])[:, 1] >= 0.5
    expected = (mine != (traffic.log.loc[~bad, "prod_score"].to_numpy() >= 0.5)).mean()
    assert result.metrics["flip_rate"] == pytest.approx(expected)


def test_requests_without_an_answer_are_counted_and_bounded(traffic, tmp_path):
    log = traffic.log.copy()
    log.loc[log.index[::50], "prod_score"] = np.nan
    path = tmp_path / "unanswered.parquet"
    log.to_parquet(path, index=False)
    result = _run(traffic, log=path, max_unanswered_rate={"max": 0.01})
    unanswered = int(log["prod_score"].isna().sum())
    assert result.metrics["unmatched"] == unanswered
    assert result.metrics["n_answered"] == len(log) - unanswered
    assert result.status == Status.FAILED
    assert result.details["join"]["without_response"] == unanswered


def _error(result, *fragments):
    assert result.status == Status.ERROR, result.summary
    message = result.error or ""
    assert "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _write(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return path


def test_bad_logs_are_one_line_errors_that_quote_no_cell(traffic, tmp_path):
    rule = {"max_flip_rate": {"max": 0.2}}
    _error(_run(traffic, log=tmp_path / "absent.parquet", **rule), "does not exist")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not parquet")
    _error(_run(traffic, log=corrupt, **rule), "corrupt.parquet")
    no_id = _write(traffic.log.drop(columns="request_id"), tmp_path / "no_id.csv")
    _error(_run(traffic, log=no_id, **rule), "request_id")
    dup = traffic.log.copy()
    dup.loc[10, "request_id"] = dup.loc[3, "request_id"]
    message = _error(_run(traffic, log=_write(dup, tmp_path / "dup.csv"), **rule), "1 duplicate")
    assert "req-000003" not in message and "row 10" in message
    lacking = _write(traffic.log.drop(columns="credit_score"), tmp_path / "lacking.csv")
    _error(_run(traffic, log=lacking, **rule), "credit_score")
    no_pred = _write(traffic.log.drop(columns="prod_score"), tmp_path / "no_pred.csv")
    _error(_run(traffic, log=no_pred, **rule), "prod_score")
    unnamed = check("shadow", data_uri="", model_uri=str(traffic.candidate_path),
                    request_log_uri=str(traffic.log_path),
                    policy_text="gates: {shadow: {max_flip_rate: {max: 0.2}}}")  # fmt: skip
    _error(unnamed, "no production prediction column")
    empty = _write(traffic.log.iloc[:0], tmp_path / "empty.csv")
    _error(_run(traffic, log=empty, **rule))
    scores = traffic.log.copy()
    scores.loc[7, "prod_score"] = 7.5
    message = _error(_run(traffic, log=_write(scores, tmp_path / "s.csv"), **rule), "[0, 1]")
    assert "7.5" not in message


def test_decisions_outside_the_model_classes_are_an_error(traffic, tmp_path):
    log = traffic.log.copy()
    log["prod_decision"] = (log["prod_score"] >= 0.5).astype(int).astype(str)
    log.loc[4, "prod_decision"] = "approve-manual"
    path = _write(log, tmp_path / "labels.csv")
    message = _error(
        _run(
            traffic, log=path, columns={"decision": "prod_decision"}, max_flip_rate={"max": 0.2}
        ),  # fmt: skip
        "1 of",
        "prod_decision",
    )
    assert "approve-manual" not in message


def test_configured_without_a_log_is_an_error_and_absent_is_skipped(traffic):
    result = check("shadow", data_uri="", model_uri=str(traffic.candidate_path),
                   policy_text=traffic.policy(max_flip_rate={"max": 0.2}))  # fmt: skip
    _error(result, "request log")
    skipped = check("shadow", data_uri="", model_uri=str(traffic.candidate_path),
                    request_log_uri=str(traffic.log_path), policy_text="gates: {}")  # fmt: skip
    assert skipped.status == Status.SKIPPED


def test_the_shadow_command_and_check_shadow_exit_like_check(traffic, tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text(traffic.policy(segment_flip_rate={"max": 0.1}))
    base = ["--policy", str(policy)]
    candidate, production = str(traffic.candidate_path), str(traffic.production_path)
    log = str(traffic.log_path)
    assert cli(["shadow", "--model", candidate, "--log", log, *base]) == 1
    assert cli(["shadow", "--model", production, "--log", log, "--json", *base]) == 0
    assert '"flip_rate": 0.0' in capsys.readouterr().out
    assert cli(["check", "shadow", "--model", candidate, "--request-log", log, *base]) == 1
    assert cli(["shadow", "--model", candidate, "--log", str(tmp_path / "no.csv"), *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: shadow gate:"), err
    reports = tmp_path / "reports"
    assert cli(["shadow", "--model", production, "--log", log, "--report-dir", str(reports),
                *base]) == 0  # fmt: skip
    assert "Flip rate per segment" in (reports / "scorecard.html").read_text()
