"""The canary rollout against real parts: two MLServers, Prometheus scraping them, nginx, traffic.

Models the demo never serves (other seeds, numeric features only, an error injected through
an encoder that refuses a category the live traffic carries), so the verdicts come from the
live metrics, not from a known fixture.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from quality_gates.components.operational_gate.measure import encode_rows
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.demo.canary import Traffic, serve
from quality_gates.shared.demo.data import make_credit_data
from quality_gates.shared.policy.release import CanaryPolicy
from quality_gates.shared.release.canary import rollout
from quality_gates.shared.release.prometheus import PrometheusClient
from quality_gates.shared.serving.mlserver import server_executable

pytestmark = pytest.mark.integration

COLUMNS = ["income", "debt_to_income", "credit_score", "home_ownership"]


def _model(handle_unknown: str, frame: pd.DataFrame, weights=None):
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(), COLUMNS[:3]),
            ("cat", OneHotEncoder(handle_unknown=handle_unknown), COLUMNS[3:]),
        ]
    )
    model = LogisticRegression(max_iter=500, class_weight=weights)
    return make_pipeline(prep, model).fit(frame[COLUMNS], frame["default"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    try:
        server_executable()
    except GateInputError as exc:
        pytest.fail(str(exc), pytrace=False)
    root = tmp_path_factory.mktemp("canary")
    frame = make_credit_data(n_rows=3000, seed=51)
    paths = {}
    for name, unknown in (("stable", "ignore"), ("good", "ignore"), ("bad", "error")):
        paths[name] = str(root / f"{name}.joblib")
        joblib.dump(_model(unknown, frame), paths[name])
    # Answers every request, fast, but calls far more applicants defaulters (reweighted labels).
    paths["shifted"] = str(root / "shifted.joblib")
    joblib.dump(_model("ignore", frame, weights={0: 1.0, 1: 8.0}), paths["shifted"])
    live = make_credit_data(n_rows=300, seed=52)[COLUMNS].dropna().reset_index(drop=True)
    rng = np.random.default_rng(5)
    # New in live traffic, in half the requests: the bad canary fails them from its first bake.
    live.loc[rng.random(len(live)) < 0.5, "home_ownership"] = "HOUSEBOAT"
    bodies = [encode_rows(live.iloc[[i]]) for i in range(len(live))]
    return paths, bodies


def _policy(url: str, **overrides) -> CanaryPolicy:
    spec = {
        "stages": [10, 50, 100],
        "bake_s": 3.0,
        "min_requests": 20,
        "max_extensions": 4,
        "rules": [
            {"metric": "error_rate", "max_increase": 0.05},
            {"metric": "p95_ms", "max_ratio": 3.0},
            {"metric": "positive_rate", "max_difference": 0.15},
        ],
        "metrics": {"prometheus_url": url},
        **overrides,
    }
    return CanaryPolicy.model_validate(spec)


def _rollout(models, canary: str, **overrides):
    paths, bodies = models
    stack = serve(paths["stable"], paths[canary], bodies)
    try:
        url = stack.prometheus.url
        result = rollout(
            router=stack.router, client=PrometheusClient(url), policy=_policy(url, **overrides)
        )
        return result, stack.traffic.statuses
    finally:
        stack.stop()


def test_a_canary_that_fails_requests_is_rolled_back_at_the_first_stage(models):
    result, statuses = _rollout(models, "bad")
    assert result.outcome == "rolled_back" and result.exit_code == 1, result.message
    assert [s.percent for s in result.stages] == [10], [c.message for c in result.stages[0].checks]
    assert (
        "error_rate increase vs stable" in result.message and "shown to violate" in result.message
    )
    assert result.canary_percent == 0  # all traffic back on stable, read back from nginx
    failed = next(c for c in result.stages[0].checks if c.decision == "fail")
    assert failed.details["canary_errors"] > 0 and failed.details["stable_errors"] == 0
    assert sum(v for k, v in statuses.items() if k >= 400) > 0  # real failed requests


def test_a_healthy_canary_reaches_100_percent(models):
    result, statuses = _rollout(models, "good")
    assert result.outcome == "promoted" and result.exit_code == 0, result.message
    assert [s.percent for s in result.stages] == [10, 50]
    assert result.canary_percent == 100
    decision = result.stages[-1]
    assert all(c.decision == "pass" for c in decision.checks), [c.message for c in decision.checks]
    assert decision.canary_requests >= 20 and decision.stable_requests >= 20
    assert set(statuses) == {200}


def test_a_canary_whose_decisions_shift_is_rolled_back_naming_positive_rate(models):
    result, statuses = _rollout(models, "shifted")
    assert result.outcome == "rolled_back", result.message
    assert "positive_rate difference vs stable" in result.message, result.message
    assert set(statuses) == {200}  # no error, no slowness: only the decisions moved
    check = next(c for c in result.stages[-1].checks if "positive_rate" in c.name)
    assert check.decision == "fail" and check.value > 0.15


def test_a_selector_that_matches_nothing_holds_without_touching_traffic(models):
    metrics = {"canary_selector": '{role="nobody"}'}
    paths, bodies = models
    stack = serve(paths["stable"], paths["good"], bodies)
    try:
        url = stack.prometheus.url
        policy = _policy(url, metrics={**metrics, "prometheus_url": url})
        result = rollout(router=stack.router, client=PrometheusClient(url), policy=policy)
        assert result.outcome == "error" and result.exit_code == 2
        assert "held at 10%" in result.message and "query returned nothing" in result.message
        assert stack.router.canary_percent() == 10  # hold: the stage's share, not rolled
    finally:
        stack.stop()


def test_prometheus_down_or_no_traffic_is_an_error_never_a_promotion(models):
    paths, bodies = models
    stack = serve(paths["stable"], paths["good"], bodies)
    try:
        down = _policy("http://127.0.0.1:9", bake_s=1.0)
        result = rollout(router=stack.router, client=PrometheusClient("http://127.0.0.1:9"),
                         policy=down)  # fmt: skip
        assert result.outcome == "error" and "not reachable" in result.message
        assert "\n" not in result.message
        stack.traffic.stop()  # nobody sends requests any more
        time.sleep(2.5)  # two scrapes: the last requests are counted before the stage starts
        url = stack.prometheus.url
        quiet = rollout(router=stack.router, client=PrometheusClient(url), policy=_policy(url))
        assert quiet.outcome == "error", quiet.message
        assert "got no inference request" in quiet.message or "returned nothing" in quiet.message
    finally:
        stack.stop()


def test_traffic_stream_counts_every_answer():
    # The demo's traffic object is also what the tests read; it must count what it sends.
    traffic = Traffic("http://127.0.0.1:9", [b"{}"], workers=2, pause_s=0.0).start()
    time.sleep(0.3)
    traffic.stop()
    assert traffic.statuses.get(0, 0) > 0  # connection refused is counted as 0, not dropped
