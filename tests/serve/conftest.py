"""Server fixtures: a home with two small knowledge bases on the tiny model, keys, and a real server on loopback."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from dualbrain.api import DualBrain
from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.serve.app import create_app
from dualbrain.store import Home

FAST = LearnConfig(train=TrainSettings(epochs=1, min_steps=0, batch_size=8, bf16=False), self_study=False)


@pytest.fixture()
def home(tmp_path: Path, tiny_model_dir: Path) -> Home:
    home = Home(tmp_path / "home")
    for name, text in (("acme", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel."),
                       ("other", "The Brannock Dairy sells cheese from forty farms.")):
        document = tmp_path / f"{name}.md"
        document.write_text(text + "\n")
        DualBrain.open(name, home=home, model=tiny_model_dir, create=True).learn([document], FAST)
    return home


def bearer(home: Home, scope: str, kb: str | None = None) -> dict:
    return {"Authorization": f"Bearer {home.keys().create(scope, kb)[1]}"}


def basic(token: str) -> dict:
    """How a browser sends the key: HTTP Basic, any user name, the key as password."""
    return {"Authorization": "Basic " + base64.b64encode(f"me:{token}".encode()).decode()}


@pytest.fixture()
def live_server(home: Home, tiny_model_dir: Path) -> Iterator[Callable[..., str]]:
    """Starts ``dualbrain serve``'s app with uvicorn on a free loopback port; returns its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(worker: bool = True) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app = create_app(home, tiny_model_dir, worker=worker, learn_config=FAST)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)
