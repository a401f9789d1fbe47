"""Run the server with uvicorn on a free loopback port in a background thread (benchmarks, tests).

The same app and the same uvicorn as ``dualbrain serve``, so what is measured or tested through it goes
over real HTTP; only the process layout differs (the server shares its process with the caller).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


@contextmanager
def serving_in_thread(app: FastAPI, start_seconds: float = 60) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 while the block runs; yields its base URL (``http://127.0.0.1:PORT``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="dualbrain-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True  # runs the app's shutdown: the learning worker, if any, is stopped
        thread.join(timeout=60)
