"""The worker inside the app (a Reflex lifespan task), so `reflex run` alone delivers emails and
PDFs. Separate `giftcerts worker` processes can run beside it: claims are safe. Set
GIFTCERTS_WORKER=off to leave the work to those processes."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

log = logging.getLogger("giftcerts.worker")


async def run_worker_in_app() -> None:
    if os.environ.get("GIFTCERTS_WORKER", "on").lower() in ("off", "0", "false", "no"):
        return
    from giftcerts.jobs.worker import Worker

    stop = threading.Event()
    thread = threading.Thread(target=Worker().run, args=(stop,), name="giftcerts-worker", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            await asyncio.sleep(1)
    finally:  # the app is shutting down: finish the current job, then stop
        stop.set()
        await asyncio.to_thread(thread.join, 30)
