"""``make demo-canary``: a bad canary rolled back at its first stage, a good one promoted.

On one machine, with the real parts a cluster has: two MLServer processes (KServe's runtime)
serving the production version and the canary under the same model name, nginx splitting the
traffic between them (``split_clients``, the local stand-in for KServe's canary or Istio's
weights), Prometheus scraping both servers' metrics every second, and a steady stream of
single-row V2 requests through nginx. Each canary is first gated by the pipeline and approved
by a named approver under ``approval.release: canary`` (the approval moves ``approved``, not
production); ``production`` moves only when the rollout reaches 100%.

The bad canary is accurate on the evaluation data but its encoder refuses a category that live
traffic now carries (``purpose: green_energy``, a new product): its error rate rises and the
first stage rolls it back, naming ``error_rate``. The good canary is the demo's candidate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import yaml

from quality_gates.shared.demo.run import (
    APPROVER,
    EXPERIMENT,
    SUBMITTER,
    demo_policy_text,
    ensure_champion,
    prepare_data,
    prepare_models,
    say,
)

MODEL = "credit-risk-release"
SERVED_AS = "credit-risk"
NEW_PURPOSE = "green_energy"
#: Share of live requests for the new product: enough for the bad canary's errors to show.
NEW_PURPOSE_SHARE = 0.2


def canary_policy_text(*, prometheus_url: str, bake_s: float = 6.0) -> str:
    """The demo policy for a canary release: the performance gate, approval, release stages."""
    policy = yaml.safe_load(demo_policy_text())
    policy["gates"] = {"performance": policy["gates"]["performance"]}
    policy["name"] = "credit-risk-canary-demo"
    policy["approval"]["release"] = "canary"
    policy["release"] = {
        "canary": {
            "stages": [10, 50, 100],
            "bake_s": bake_s,
            "min_requests": 50,
            "max_extensions": 3,
            "confidence": 0.95,
            "rules": [
                {"metric": "error_rate", "max_increase": 0.05,
                 "rationale": "A new model may not fail one request in 20 more than the one "
                              "in use."},
                {"metric": "p95_ms", "max_ratio": 2.0,
                 "rationale": "The decision API's latency may not double."},
                {"metric": "positive_rate", "max_difference": 0.1,
                 "rationale": "The share of refused applicants may not move by ten points."},
            ],
            "metrics": {"prometheus_url": prometheus_url},
        }
    }  # fmt: skip
    return yaml.safe_dump(policy, sort_keys=False)


def live_traffic(eval_path: Path, *, rows: int = 400, seed: int = 7) -> list[bytes]:
    """Single-row V2 request bodies like production's: a share of them for the new product."""
    from quality_gates.components.operational_gate.measure import encode_rows
    from quality_gates.shared.demo.data import FEATURES

    frame = pd.read_parquet(eval_path)[FEATURES].dropna().head(rows).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    frame.loc[rng.random(len(frame)) < NEW_PURPOSE_SHARE, "purpose"] = NEW_PURPOSE
    return [encode_rows(frame.iloc[[i]]) for i in range(len(frame))]


@dataclass
class Traffic:
    """Background streams of requests through the router (``workers`` connections).

    Attributes:
        url: The router's base URL.
        bodies: Request bodies, sent in turn.
        workers: Concurrent clients, each on its own keep-alive connection.
        pause_s: Pause between a client's requests.
    """

    url: str
    bodies: list[bytes]
    workers: int = 4
    pause_s: float = 0.002
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, offset: int) -> None:
        http = requests.Session()
        target = f"{self.url}/v2/models/{SERVED_AS}/infer"
        headers = {"Content-Type": "application/json"}
        i = offset
        while not self._stop.is_set():
            body = self.bodies[i % len(self.bodies)]
            i += self.workers
            try:
                code = http.post(target, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException:
                code = 0
            with self._lock:
                self.statuses[code] = self.statuses.get(code, 0) + 1
            time.sleep(self.pause_s)

    def start(self) -> Traffic:
        """Start sending."""
        for w in range(self.workers):
            thread = threading.Thread(target=self._run, args=(w,), name=f"qg-traffic-{w}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop sending."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def train_bad_canary(train_path: Path, path: Path) -> Path:
    """The demo candidate's recipe with an encoder that refuses unseen categories (once)."""
    import joblib
    from sklearn.base import clone
    from sklearn.preprocessing import OneHotEncoder

    from quality_gates.shared.demo.data import FEATURES, LABEL, train_models

    if not path.exists():
        train = pd.read_parquet(train_path)
        model = clone(train_models(train.head(50), seed=0)["candidate"])
        model.named_steps["prep"].set_params(
            cat=OneHotEncoder(handle_unknown="error", sparse_output=False)
        )
        model.fit(train[FEATURES], train[LABEL].to_numpy())
        joblib.dump(model, path)
    return path


def gate_and_approve(home: Path, model_path: Path, policy_text: str, tracking_uri: str) -> str:
    """Run the gated pipeline on a canary and approve it; return its version."""
    from quality_gates.shared.governance.approval import approve
    from quality_gates.shared.kfp_glue.local_run import run_pipeline

    data = home / "data"
    out = home / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-canary-{model_path.stem}"
    run = run_pipeline(
        model_uri=str(model_path),
        data_uri=str(data / "eval.parquet"),
        submitted_by=SUBMITTER,
        policy_text=policy_text,
        registered_model_name=MODEL,
        output_dir=out,
        experiment_name=EXPERIMENT,
        tracking_uri=tracking_uri,
    )
    if run.promoted_version is None:
        raise RuntimeError(f"the gates refused the canary {model_path.name}: {run.scorecard_dir}")
    from quality_gates.shared.tracking.client import connect

    mv = connect(tracking_uri).get_model_version(MODEL, run.promoted_version)
    if (mv.tags or {}).get("quality_gates.approval") != "approved":  # a rerun: decided before
        approve(name=MODEL, version=run.promoted_version, approver=APPROVER,
                comment="reviewed the scorecard; release as a canary",
                tracking_uri=tracking_uri)  # fmt: skip
    say(f"gated and approved {MODEL} v{run.promoted_version} ({model_path.name}): holds 'approved'")
    return str(run.promoted_version)


def _local_model(name: str, version: str, tracking_uri: str, into: Path) -> str:
    """Download a registered version's MLflow model folder (what KServe's runtime serves)."""
    import shutil

    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    target = into / f"v{version}"
    shutil.rmtree(target, ignore_errors=True)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version}", dst_path=str(target)
    )
    return str(next(Path(local).rglob("MLmodel")).parent)


@dataclass
class Stack:
    """The serving stack of one rollout: two model servers, Prometheus, nginx, traffic."""

    stable: object
    canary: object
    prometheus: object
    router: object
    traffic: Traffic

    def stop(self) -> None:
        """Stop everything (traffic first)."""
        self.traffic.stop()
        for part in (self.router, self.prometheus, self.canary, self.stable):
            part.stop()  # type: ignore[attr-defined]


def serve(stable_path: str, canary_path: str, bodies: list[bytes]) -> Stack:
    """Start both servers, Prometheus scraping them, nginx in front, and the traffic."""
    from quality_gates.shared.release.nginx import NginxRouter
    from quality_gates.shared.release.prometheus import LocalPrometheus
    from quality_gates.shared.serving.mlserver import ModelServer, counting_runtime_for

    servers = []
    for path in (stable_path, canary_path):
        implementation, pythonpath = counting_runtime_for(path)
        servers.append(ModelServer(name=SERVED_AS, local_path=path,
                                   implementation=implementation,
                                   extra_pythonpath=pythonpath))  # fmt: skip
    started: list = []
    try:
        for server in servers:
            server.launch()
            started.append(server)
        for server in servers:
            server.wait_ready()
            server.load(uri=server.local_path)
        stable, canary = servers
        prometheus = LocalPrometheus(
            {
                "stable": f"127.0.0.1:{stable.metrics_port}",
                "canary": f"127.0.0.1:{canary.metrics_port}",
            }  # fmt: skip
        ).start()
        started.append(prometheus)
        router = NginxRouter(stable=f"127.0.0.1:{stable.port}", canary=f"127.0.0.1:{canary.port}")
        router.start()
        started.append(router)
    except BaseException:
        for part in reversed(started):
            part.stop()
        raise
    stack = Stack(stable, canary, prometheus, router, Traffic(router.url, bodies).start())
    try:
        prometheus.wait_for_targets()
    except BaseException:
        stack.stop()
        raise
    return stack


def release(*, home: Path, version: str, stable_version: str, bodies: list[bytes],
            tracking_uri: str, bake_s: float) -> int:  # fmt: skip
    """Serve production and the canary, run the rollout, record its outcome; return its code."""
    from quality_gates.shared.governance.release import record_outcome
    from quality_gates.shared.policy.schema import parse_policy
    from quality_gates.shared.release.canary import rollout
    from quality_gates.shared.release.prometheus import PrometheusClient

    models = home / "serving"
    stack = serve(
        _local_model(MODEL, stable_version, tracking_uri, models),
        _local_model(MODEL, version, tracking_uri, models),
        bodies,
    )
    try:
        url = stack.prometheus.url  # type: ignore[attr-defined]
        policy = parse_policy(canary_policy_text(prometheus_url=url, bake_s=bake_s))
        spec = policy.release.canary
        say(f"rollout of v{version} over {stack.router.describe()}, stages {spec.stages}")  # type: ignore[attr-defined]
        result = rollout(router=stack.router, client=PrometheusClient(url), policy=spec)
    finally:
        stack.stop()
    for stage in result.stages:
        say(
            f"  stage {stage.percent}%: {stage.canary_requests} canary / "
            f"{stage.stable_requests} stable requests, {stage.bakes} bake(s): {stage.decision}"
        )
        for check in stage.checks:
            say(f"    {check.status.value}: {check.message}")
    say(f"outcome: {result.message}")
    record = record_outcome(name=MODEL, version=version, outcome=result.outcome,
                            actor="canary-rollout@example.com", details=result.as_dict(),
                            tracking_uri=tracking_uri)  # fmt: skip
    say(f"audit record {record['seq']}: {record['event']}")
    return result.exit_code


def run_canary_demo(*, home: str | Path, bake_s: float = 6.0) -> int:
    """Gate, approve and roll out a bad canary (rolled back), then a good one (promoted).

    Args:
        home: Demo folder (shared with ``make demo``; its own registered model).
        bake_s: Seconds each stage bakes.

    Returns:
        0 when the bad canary was rolled back with production unchanged and the good one
        reached 100% and production.
    """
    from quality_gates.shared.tracking.client import connect

    home = Path(home).resolve()
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    train_path, eval_path, _ = prepare_data(home, rows=20000)
    models = prepare_models(home, train_path)
    champion = ensure_champion(home, models["champion"], tracking_uri, name=MODEL)
    stable = champion.rsplit("/", 1)[-1]
    bad = train_bad_canary(train_path, home / "models" / "bad_canary.joblib")
    bodies = live_traffic(eval_path)
    # Prometheus's URL is the deployment's; the recorded policy names the cluster's default.
    policy_text = canary_policy_text(prometheus_url="http://prometheus.monitoring:9090",
                                     bake_s=bake_s)  # fmt: skip
    client = connect(tracking_uri)
    say(f"bad canary ({NEW_PURPOSE_SHARE:.0%} of live requests carry purpose={NEW_PURPOSE})")
    bad_version = gate_and_approve(home, bad, policy_text, tracking_uri)
    bad_code = release(home=home, version=bad_version, stable_version=stable, bodies=bodies,
                       tracking_uri=tracking_uri, bake_s=bake_s)  # fmt: skip
    held = client.get_model_version_by_alias(MODEL, "production").version
    say(f"production after the bad canary: v{held} (stable v{stable})")
    say("good canary (the demo's candidate)")
    good_version = gate_and_approve(home, models["candidate"], policy_text, tracking_uri)
    good_code = release(home=home, version=good_version, stable_version=stable, bodies=bodies,
                        tracking_uri=tracking_uri, bake_s=bake_s)  # fmt: skip
    now = client.get_model_version_by_alias(MODEL, "production").version
    say(f"production after the good canary: v{now}")
    say(f"audit log: quality-gates audit show --model {MODEL} --tracking-uri {tracking_uri}")
    ok = bad_code == 1 and str(held) == stable and good_code == 0 and str(now) == good_version
    return 0 if ok else 1
