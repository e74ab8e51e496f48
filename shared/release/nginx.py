"""The embedded default's traffic router: nginx, weighted with ``split_clients``.

nginx (Debian package ``nginx``) listens on 127.0.0.1 and proxies every request to the stable
or the canary model server. ``split_clients`` hashes each request's ``$request_id`` (random per
request) into the canary's percentage, which is how a weighted route behaves; a new share is a
rewritten configuration and ``nginx -s reload`` (graceful: requests in flight finish on the old
workers). ``GET /qg/split`` answers the share the running configuration holds, so
:meth:`NginxRouter.canary_percent` reads back what nginx applies, not what was written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.release.traffic import check_percent

_CONF = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream stable {{ server {stable}; keepalive 8; }}
    upstream canary {{ server {canary}; keepalive 8; }}
    split_clients "${{request_id}}" $qg_backend {{
{split}
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /qg/split {{ default_type text/plain; return 200 "{percent}"; }}
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-QG-Backend $qg_backend always;
            proxy_pass http://$qg_backend;
        }}
    }}
}}
"""


@dataclass
class NginxRouter:
    """An nginx process splitting traffic between two upstreams on 127.0.0.1.

    Attributes:
        stable: ``host:port`` of the stable model server.
        canary: ``host:port`` of the canary model server.
        port: The port nginx listens on (0: a free one at start).
        executable: The nginx binary.
    """

    stable: str
    canary: str
    port: int = 0
    executable: str = "nginx"
    workdir: Path | None = None
    process: subprocess.Popen | None = None
    _percent: int = 0

    @property
    def url(self) -> str:
        """Where clients send their requests."""
        return f"http://127.0.0.1:{self.port}"

    def _write(self, percent: int) -> None:
        split = "        *  stable;" if percent == 0 else (
            "        *  canary;" if percent == 100 else f"        {percent}%  canary;\n"
            "        *  stable;"
        )  # fmt: skip
        text = _CONF.format(
            dir=self.workdir,
            stable=self.stable,
            canary=self.canary,
            split=split,
            port=self.port,
            percent=percent,
        )
        (self.workdir / "nginx.conf").write_text(text, encoding="utf-8")  # type: ignore[operator]

    def _nginx(self, *args: str) -> list[str]:
        return [self._binary(), "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf"),
                *args]  # fmt: skip

    def _binary(self) -> str:
        found = shutil.which(self.executable) or (
            "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
        )
        if found is None:
            raise GateInputError("the canary demo routes through nginx: apt-get install nginx")
        return found

    def start(self, *, timeout_s: float = 15.0) -> NginxRouter:
        """Start nginx with all traffic on stable and wait until it answers.

        Raises:
            GateInputError: No binary, a configuration nginx rejects, or no answer in time.
        """
        from quality_gates.shared.serving.mlserver import free_port

        self.workdir = Path(tempfile.mkdtemp(prefix="qg-nginx-"))
        self.workdir.chmod(0o755)  # workers run as nobody when the master is root
        self.port = self.port or free_port()
        self._write(0)
        self._test_config()
        log = (self.workdir / "stdout.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - the Debian binary, fixed arguments
            self._nginx(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._wait_for(0, timeout_s=timeout_s)
        return self

    def _test_config(self) -> None:
        done = subprocess.run(self._nginx("-t", "-q"), capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0:
            line = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
            raise GateInputError(f"nginx rejected the router configuration: {line}")

    def _workers(self) -> set[int]:
        """PIDs of the master's worker processes (``/proc/<pid>/task/*/children``)."""
        from quality_gates.shared.serving.process import children

        return set(children(self.process.pid)) if self.process is not None else set()

    def _wait_for(
        self, percent: int, *, timeout_s: float, old_workers: set[int] | None = None
    ) -> None:
        """Wait until nginx answers the new share and every pre-reload worker has exited.

        A graceful reload lets old workers finish their connections, and a client's keep-alive
        connection held by an old worker still follows the old split: the change counts only
        when those workers are gone.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if old_workers and self._workers() & old_workers:
                time.sleep(0.05)
                continue
            if self.process is not None and self.process.poll() is not None:
                raise GateInputError(
                    f"nginx exited with code {self.process.returncode}; see "
                    f"{self.workdir / 'error.log'}"
                )
            try:
                if self._read() == percent:
                    self._percent = percent
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        raise GateInputError(
            f"nginx on {self.url} did not apply a canary share of {percent}% within {timeout_s:g} s"
        )

    def _read(self) -> int:
        return int(requests.get(f"{self.url}/qg/split", timeout=2.0).text.strip())

    def set_canary_percent(self, percent: int) -> None:
        """Rewrite the split, reload nginx and wait until its workers apply it."""
        percent = check_percent(percent)
        previous = self._percent
        self._write(percent)
        try:
            self._test_config()
        except GateInputError:
            self._write(previous)
            raise
        before = self._workers()
        subprocess.run(self._nginx("-s", "reload"), check=False, capture_output=True)  # noqa: S603
        self._wait_for(percent, timeout_s=15.0, old_workers=before)

    def canary_percent(self) -> int:
        """The share the running nginx applies (``GET /qg/split``)."""
        try:
            return self._read()
        except (requests.RequestException, ValueError):
            raise GateInputError(f"nginx on {self.url} does not answer GET /qg/split") from None

    def describe(self) -> str:
        """One line: the router and its upstreams."""
        return f"nginx split_clients on {self.url} (stable {self.stable}, canary {self.canary})"

    def stop(self) -> None:
        """Stop nginx and remove its folder."""
        from quality_gates.shared.serving.process import stop_process

        stop_process(self.process, self.workdir)
