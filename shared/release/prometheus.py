"""Live metrics from Prometheus: its HTTP query API, and a local server for the embedded demo.

A canary stage is judged on what the model servers exported during the stage. Counters and
histogram buckets are read at the stage's start and end with instant queries
(``GET /api/v1/query?query=...&time=...``) and subtracted, so the counts are the requests of
the stage exactly (no ``rate()`` extrapolation): the error rates get binomial intervals and the
latency percentiles a multinomial bootstrap over the histogram's buckets.

MLServer (KServe's runtime) exports ``model_infer_request_success_total`` / ``_failure_total``
counters and
``rest_server_request_duration_seconds`` histograms (starlette_exporter) on its metrics port;
a selector such as ``{role="canary"}`` (the demo's scrape labels) or
``{namespace="ml", pod=~"credit-risk-canary-.*"}`` (a cluster) picks one side.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from quality_gates.shared.contracts.errors import GateInputError

_TIMEOUT_S = 10.0


@dataclass
class PrometheusClient:
    """Instant queries against a Prometheus HTTP API.

    Attributes:
        url: Base URL, e.g. ``http://prometheus.monitoring:9090``.
        timeout_s: Per-request timeout.
    """

    url: str
    timeout_s: float = _TIMEOUT_S
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    def query(self, promql: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """Run an instant query; return its vector (``[{"metric": {...}, "value": [t, "v"]}]``).

        Args:
            promql: The query.
            at: Evaluation time (unix seconds); default now.

        Returns:
            The result vector (possibly empty: the caller decides what no data means).

        Raises:
            GateInputError: Prometheus unreachable, an HTTP error, or a query it refuses,
                in one line naming the URL and the error type (never the response body).
        """
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        where = f"{self.url.rstrip('/')}/api/v1/query"
        try:
            answer = self.http.get(where, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise GateInputError(
                f"Prometheus at {self.url} is not reachable ({type(exc).__name__}); check the "
                "URL (release.canary.metrics.prometheus_url) and that Prometheus is up"
            ) from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or body.get("status") != "success":
            kind = body.get("errorType") or f"HTTP {answer.status_code}"
            raise GateInputError(
                f"Prometheus at {self.url} refused the query ({kind}) for {promql[:120]}; "
                "check the metric names and selectors of release.canary.metrics"
            )
        data = body.get("data") or {}
        if data.get("resultType") != "vector":
            raise GateInputError(
                f"Prometheus at {self.url} answered a {data.get('resultType')} for an instant "
                f"query, not a vector: {promql[:120]}"
            )
        return list(data.get("result") or [])

    def scalar_sum(self, promql: str, *, at: float | None = None) -> float | None:
        """Sum of a query's vector values at a time, or None when the vector is empty."""
        result = self.query(promql, at=at)
        if not result:
            return None
        return float(sum(float(r["value"][1]) for r in result))

    def buckets(self, metric: str, selector: str, *, at: float) -> dict[float, float] | None:
        """Cumulative bucket counts ``{le: count}`` of a histogram, summed over series."""
        result = self.query(f"sum by (le) ({metric}_bucket{selector})", at=at)
        if not result:
            return None
        return {float(r["metric"]["le"]): float(r["value"][1]) for r in result}

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200."""
        try:
            return self.http.get(f"{self.url.rstrip('/')}/-/ready", timeout=2.0).ok
        except requests.RequestException:
            return False


@dataclass
class LocalPrometheus:
    """A Prometheus process on 127.0.0.1 scraping given targets every ``interval_s``.

    Attributes:
        targets: ``{"stable": "127.0.0.1:8082", ...}``: each target's ``role`` label.
        interval_s: Scrape interval (1 s: a demo stage lasts seconds).
        executable: The ``prometheus`` binary (Debian package ``prometheus``).
    """

    targets: dict[str, str]
    interval_s: float = 1.0
    executable: str = "prometheus"
    port: int = 0
    process: subprocess.Popen | None = None
    workdir: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, Any]:
        interval = f"{max(int(self.interval_s * 1000), 100)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": f"model-{role}",
                    "static_configs": [{"targets": [target], "labels": {"role": role}}],
                }
                for role, target in self.targets.items()
            ],
        }

    def start(self, *, timeout_s: float = 30.0) -> LocalPrometheus:
        """Write its config, start it and wait until it is ready.

        Raises:
            GateInputError: No binary (names the Debian package) or it does not get ready.
        """
        from quality_gates.shared.serving.mlserver import free_port

        binary = shutil.which(self.executable)
        if binary is None:
            raise GateInputError(
                "the canary demo needs Prometheus: apt-get install prometheus "
                "(Debian package; or put a prometheus binary on PATH)"
            )
        self.workdir = Path(tempfile.mkdtemp(prefix="qg-prometheus-"))
        self.port = free_port()
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()), encoding="utf-8")
        log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - the Debian binary, fixed arguments
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        client = PrometheusClient(self.url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GateInputError(
                    f"Prometheus exited with code {self.process.returncode} at start-up; see "
                    f"{self.workdir / 'prometheus.log'}"
                )
            if client.ready():
                return self
            time.sleep(0.2)
        raise GateInputError(f"Prometheus on {self.url} was not ready within {timeout_s:g} s")

    def wait_for_targets(self, *, timeout_s: float = 30.0) -> None:
        """Wait until every target has been scraped (``up == 1`` for each role).

        Prometheus spreads its first scrapes over an interval after start-up; a rollout that
        starts before them would read "no series" and hold.

        Raises:
            GateInputError: A target not up in time (names it).
        """
        client = PrometheusClient(self.url)
        deadline = time.monotonic() + timeout_s
        while True:
            up = {r["metric"].get("role") for r in client.query("up == 1")}
            missing = sorted(set(self.targets) - up)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise GateInputError(
                    f"Prometheus on {self.url} could not scrape {', '.join(missing)} "
                    f"({', '.join(self.targets[m] for m in missing)}) within {timeout_s:g} s"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the process and remove its folder."""
        from quality_gates.shared.serving.process import stop_process

        stop_process(self.process, self.workdir)
