"""Server fixtures: a home with two small knowledge bases on the tiny model, keys, and a real server on loopback."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.serve.app import create_app
from dualbrain.serve.local import serving_in_thread
from dualbrain.store import Home
from tests.settings import FAST


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
    with ExitStack() as servers:
        def start(worker: bool = True) -> str:
            return servers.enter_context(serving_in_thread(create_app(home, tiny_model_dir, worker=worker, learn_config=FAST)))

        yield start
