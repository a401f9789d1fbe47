"""Stays local: a whole upload → learn → chat cycle over real loopback HTTP opens no other connection.

An audit hook sees every socket connect, sendto and name lookup of this process (whatever library makes
it) and refuses anything but loopback while the cycle runs. The learning worker runs here in a thread
(the same function `dualbrain serve`'s worker process runs), so its connections are watched too.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from dualbrain.serve.worker import run_worker
from dualbrain.store import Home
from tests.settings import FAST

_LOCAL_NAMES = {None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"}
_watch: dict = {"on": False, "refused": []}


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # a Unix socket path: never leaves the machine
        return True
    host = address[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in _LOCAL_NAMES


def _guard(event: str, args: tuple) -> None:
    if not _watch["on"]:
        return
    if event in ("socket.connect", "socket.sendto") and not _is_loopback(args[1]):
        _watch["refused"].append((event, args[1]))
        raise ConnectionRefusedError(f"outbound connection blocked by the test: {args[1]}")
    if event == "socket.getaddrinfo" and args[0] not in _LOCAL_NAMES:
        _watch["refused"].append((event, args[0]))
        raise socket.gaierror(f"name lookup blocked by the test: {args[0]}")


sys.addaudithook(_guard)  # audit hooks cannot be removed: it stays, switched off, for the rest of the run


@contextmanager
def no_outbound_network() -> Iterator[list]:
    _watch["refused"] = []
    _watch["on"] = True
    try:
        yield _watch["refused"]
    finally:
        _watch["on"] = False


def test_the_guard_refuses_the_outside_world() -> None:
    with no_outbound_network() as refused, pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1: never routed anyway
    assert refused


def test_upload_learn_and_chat_make_no_outbound_connection(live_server: Callable[..., str], home: Home,
                                                           tiny_model_dir: Path) -> None:
    url = live_server(worker=False)
    token = home.keys().create("write", "acme")[1]
    with no_outbound_network() as refused:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            files = [("files", ("kites.md", b"Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n", "text/markdown"))]
            request = http.post("/v1/kbs/acme/documents", files=files).json()["request"]
            run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
            assert http.get(f"/v1/kbs/acme/requests/{request['id']}").json()["status"] == "done"
            openai = OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)
            question = [{"role": "user", "content": "What did Edda Vrankel found?"}]
            assert openai.chat.completions.create(model="dualbrain/acme", messages=question, max_tokens=4).choices[0].message.content
            assert "".join(c.choices[0].delta.content or "" for c in
                           openai.chat.completions.create(model="dualbrain/acme", messages=question, max_tokens=4, stream=True))
    assert refused == []
