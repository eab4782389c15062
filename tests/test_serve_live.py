"""The production command for real: `giftcerts serve --workers 2` on a throwaway PostgreSQL
database and Redis, beside a `giftcerts worker`: ready, redeeming, counting requests across
both processes in one scrape, and stopping on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from giftcerts import db
from giftcerts.core import apikeys, redemption
from tests.conftest import ARTIFACTS, ROOT, _free_port, throwaway_postgres
from tests.factories import make_certificate, make_workspace

BIN = Path(sys.executable).parent
TOKEN = "serve-live-metrics-token"
REDIS = "redis://127.0.0.1:6379/13"


def env_for(url: str, port: int) -> dict[str, str]:
    tools = [str(p) for p in (ROOT / ".tools/node_modules/.bin",) if p.is_dir()]  # bun, from `make install`
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "GIFTCERTS_WORKER",
                                                            "PROMETHEUS_MULTIPROC_DIR")}
    return {**env, "REFLEX_DB_URL": url, "REFLEX_REDIS_URL": REDIS, "PORT": str(port),
            "GIFTCERTS_PUBLIC_URL": f"http://localhost:{port}", "GIFTCERTS_METRICS_TOKEN": TOKEN,
            "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_TELEMETRY_ENABLED": "false",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([*tools, os.environ.get("PATH", "")])}


def samples(text: str, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name == name}


@pytest.fixture
def served(tmp_path):
    with throwaway_postgres("giftcerts_serve") as url:
        with db.write_session(url) as s:
            ws = make_workspace(s)
            _, key = apikeys.create_api_key(s, ws)
            cert = make_certificate(s, ws, amount="100")
            order = redemption.create_order(s, ws, reference="LIVE-1", total_cents=50000, currency="USD")
        port = _free_port()
        ARTIFACTS.mkdir(exist_ok=True)
        log = open(ARTIFACTS / "serve-live.log", "w")
        shared = tmp_path / "metrics"  # where the processes add up their metrics (else serve makes one)
        shared.mkdir()
        proc = subprocess.Popen([str(BIN / "giftcerts"), "serve", "--workers", "2", "--port", str(port)],
                                env={**env_for(url, port), "PROMETHEUS_MULTIPROC_DIR": str(shared)}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        base = f"http://localhost:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                assert proc.poll() is None, "giftcerts serve exited; see test-artifacts/serve-live.log"
                assert time.monotonic() < deadline, "giftcerts serve did not get ready in time"
                try:
                    if httpx.get(f"{base}/api/v1/ready", timeout=3).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(1)
            yield {"base": base, "url": url, "proc": proc, "key": key, "code": cert.code, "order": order.id}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            db.dispose_all()


def test_two_app_processes_on_postgres_and_redis_serve_count_and_stop(served, tmp_path):
    base, headers = served["base"], {"Authorization": f"Bearer {served['key']}"}
    ready = httpx.get(f"{base}/api/v1/ready").json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    body = {"code": served["code"], "order_id": served["order"]}
    for _ in range(20):  # a new connection each: either process may answer
        assert httpx.post(f"{base}/api/v1/redemptions/preview", json=body, headers=headers).status_code == 200
    redeemed = httpx.post(f"{base}/api/v1/redemptions", json=body, headers=headers)
    assert redeemed.status_code == 201, redeemed.text
    # whichever process answers the scrape, it counts the requests of both
    for _ in range(6):
        text = httpx.get(f"{base}/api/v1/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        previews = samples(text, "giftcerts_http_requests_total")
        assert previews[(("method", "POST"), ("route", "/api/v1/redemptions/preview"), ("status", "200"))] == 20
        assert samples(text, "giftcerts_redemptions_total")[(("channel", "api"), ("outcome", "redeemed"))] == 1
    assert sum(samples(text, "giftcerts_jobs_due").values()) > 0  # the in-app worker is off: jobs wait

    # a worker process of its own does them
    from giftcerts.notify.sink import MailSink
    sink = MailSink(tmp_path / "mail", port=_free_port()).start()
    try:
        done = subprocess.run([str(BIN / "giftcerts"), "worker", "--once", "--no-sweeps"],
                              env={**env_for(served["url"], 0), "GIFTCERTS_SMTP_URL": sink.url}, cwd=ROOT,
                              capture_output=True, text=True, timeout=180)
    finally:
        sink.stop()
    assert done.returncode == 0, done.stderr
    text = httpx.get(f"{base}/api/v1/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert sum(samples(text, "giftcerts_jobs_due").values()) == 0

    # and what was done through two processes and a worker left the data whole
    checked = subprocess.run([str(BIN / "giftcerts"), "check"], env=env_for(served["url"], 0), cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No problems found" in checked.stdout

    # SIGTERM: the server stops, every process of it
    proc = served["proc"]
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) is not None
    time.sleep(1)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/api/v1/health", timeout=2)
