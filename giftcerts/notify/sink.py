"""A local SMTP sink for development and tests: every message received is stored as an
`.eml` file in a folder (what `make run` starts, so that sent email can be read)."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = threading.Lock()
        self.seq = itertools.count(1)
        self.messages: list[bytes] = []
        self.reply_delay = 0.0  # seconds before the "250" reply: a slow server (tests)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        data = envelope.original_content or envelope.content
        with self.lock:
            self.messages.append(data)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(self.seq):06d}.eml"
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.rename(self.folder / name)  # readers never see a half-written file
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted for delivery"


class MailSink:
    """`with MailSink(folder, port=...) as sink:` runs an SMTP server in a background thread."""

    def __init__(self, folder: str | Path, *, host: str = "127.0.0.1", port: int = 1025):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.handler = _Handler(self.folder)
        self.controller = Controller(self.handler, hostname=host, port=port)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> "MailSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self):
        return read_folder(self.folder)


def read_folder(folder: str | Path):
    """Every stored message, oldest first, parsed."""
    return [message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(Path(folder).glob("*.eml"))]
