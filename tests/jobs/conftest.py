"""An SMTP sink (aiosmtpd) on a free port for the email tests, and a helper that drains jobs."""

from __future__ import annotations

import socket

import pytest

from giftcerts.jobs import worker as worker_module
from giftcerts.jobs.worker import Worker
from giftcerts.notify.sink import MailSink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail_sink(tmp_path, monkeypatch):
    """A running SMTP sink; GIFTCERTS_SMTP_URL points at it. `.restart()` after `.stop()`."""
    port = free_port()
    holder = {}

    class Handle:
        folder = tmp_path / "mail"
        url = f"smtp://127.0.0.1:{port}"

        def start(self):
            holder["sink"] = MailSink(self.folder, port=port).start()

        def stop(self):
            holder.pop("sink").stop()

        def slow_down(self, seconds: float):
            """Wait this long after storing each message before answering "250" to it."""
            holder["sink"].handler.reply_delay = seconds

        def count(self) -> int:
            return len(list(self.folder.glob("*.eml")))

        def messages(self):
            from giftcerts.notify.sink import read_folder
            return read_folder(self.folder)

    handle = Handle()
    monkeypatch.setenv("GIFTCERTS_SMTP_URL", handle.url)
    handle.start()
    yield handle
    if "sink" in holder:
        handle.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(worker_module, "BACKOFF_SECONDS", 0.0)


def drain(url: str, *, limit: int = 500) -> int:
    """Run due jobs until none is left; how many ran."""
    w = Worker(url)
    ran = 0
    while ran < limit and w.run_one():
        ran += 1
    return ran
