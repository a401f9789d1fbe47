"""The server on a tiny model: deny by default, per-key isolation, OpenAI shapes (the official client too)."""

import asyncio
import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from openai import OpenAI
from starlette.formparsers import MultiPartParser

from dualbrain.answering import modes
from dualbrain.api import DualBrain
from dualbrain.serve.app import create_app
from dualbrain.serve.worker import run_worker
from dualbrain.store import Home, Quotas
from dualbrain.store.reports import publish_report
from tests.serve.conftest import basic, bearer
from tests.settings import FAST


@pytest.fixture()
def client(home: Home, tiny_model_dir: Path) -> TestClient:
    return TestClient(create_app(home, tiny_model_dir, worker=False))


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, as its OpenAPI schema lists them."""
    return [(method.upper(), path) for path, methods in client.app.openapi()["paths"].items() for method in methods]


def test_every_route_but_health_needs_a_key(client: TestClient, home: Home) -> None:
    assert client.get("/health").status_code == 200
    routes = _routes(client)
    routes += [("GET", "/openapi.json"), ("GET", "/static/app.js"), ("GET", "/no/such/route")]
    assert len(routes) > 8
    revoked, token = home.keys().create("admin")
    home.keys().revoke(revoked.id)
    for method, path in routes:
        if path == "/health":
            continue
        url = path.replace("{name}", "acme")
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {token}"}, {"Authorization": token},
                        basic(token), {"Authorization": "Basic %%%"}):
            response = client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, url, headers)


def test_a_key_sees_and_uses_only_its_knowledge_base(client: TestClient, home: Home) -> None:
    reader = bearer(home, "read", "acme")
    ids = [m["id"] for m in client.get("/v1/models", headers=reader).json()["data"]]
    assert ids == ["base", "dualbrain/acme"]
    assert [kb["name"] for kb in client.get("/v1/kbs", headers=reader).json()["data"]] == ["acme"]
    chat = {"messages": [{"role": "user", "content": "Who founded Quillfeather?"}], "max_tokens": 4}
    assert client.post("/v1/chat/completions", json=chat | {"model": "dualbrain/acme"}, headers=reader).status_code == 200
    assert client.post("/v1/chat/completions", json=chat | {"model": "base"}, headers=reader).status_code == 200
    for method, url, body in (("POST", "/v1/chat/completions", chat | {"model": "dualbrain/other"}),
                              ("GET", "/v1/kbs/other", None), ("GET", "/v1/kbs/other/documents", None),
                              ("GET", "/v1/kbs/other/versions", None), ("DELETE", "/v1/kbs/other", None)):
        response = client.request(method, url, json=body, headers=reader)
        assert response.status_code == 404 and "other" in response.json()["error"]["message"]  # not even its existence
    assert client.delete("/v1/kbs/acme", headers=reader).status_code == 403  # read scope cannot delete its own
    assert client.post("/v1/kbs", json={"name": "new"}, headers=bearer(home, "write", "acme")).status_code == 403
    admin = bearer(home, "admin")
    assert client.post("/v1/kbs", json={"name": "new"}, headers=admin).status_code == 201
    assert client.post("/v1/kbs", json={"name": "new"}, headers=admin).status_code == 409
    assert client.delete("/v1/kbs/new", headers=admin).json() == {"deleted": "new"}
    assert client.get("/v1/kbs/new", headers=admin).status_code == 404


def test_every_knowledge_base_route_hides_other_knowledge_bases(client: TestClient, home: Home) -> None:
    """A key for acme, even an admin one, gets 404 on every route about 'other' (as if it did not exist) and
    'other' is untouched afterwards."""
    acme_admin = bearer(home, "admin", "acme")
    before = {"documents": client.get("/v1/kbs/other/documents", headers=bearer(home, "read")).json(),
              "versions": client.get("/v1/kbs/other/versions", headers=bearer(home, "read")).json()}
    doc_id = before["documents"]["data"][0]["id"]
    kb_routes = [(method, path) for method, path in _routes(client) if "{name}" in path]
    assert len(kb_routes) >= 9
    bodies = {"/v1/kbs/{name}/rollback": {"json": {"version": "v0001"}},
              "/v1/kbs/{name}/documents": {"files": [("files", ("a.txt", b"Some words about cheese.", "text/plain"))]}}
    for method, path in kb_routes:
        url = path.format(name="other", document_id=doc_id, request_id=1)
        body = bodies.get(path, {}) if method == "POST" else {}
        response = client.request(method, url, headers=acme_admin, **body)
        assert response.status_code == 404 and "other" in response.json()["error"]["message"], (method, url, response.text)
    assert client.get("/v1/kbs/other/documents", headers=bearer(home, "read")).json() == before["documents"]
    assert client.get("/v1/kbs/other/versions", headers=bearer(home, "read")).json() == before["versions"]
    assert home.queue().list("other") == []


def test_chat_completion_answers_with_the_knowledge_base(client: TestClient, home: Home, tiny_model_dir: Path) -> None:
    headers = bearer(home, "read")
    question = "Who founded Quillfeather?"
    body = {"model": "dualbrain/acme", "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": question}], "max_tokens": 6, "temperature": 0.7}
    reply = client.post("/v1/chat/completions", json=body, headers=headers).json()
    brain = DualBrain.open("acme", home=home, model=tiny_model_dir)
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["message"]["content"] == brain.ask(question, max_new_tokens=6)
    plain = client.post("/v1/chat/completions", json=body | {"model": "base"}, headers=headers).json()
    assert plain["choices"][0]["message"]["content"] == brain.ask(question, mode="base", max_new_tokens=6)


def test_streaming_sends_chunks_then_done(client: TestClient, home: Home) -> None:
    body = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "Who founded Quillfeather?"}],
            "max_tokens": 6, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=bearer(home, "read")) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks).strip()
    whole = client.post("/v1/chat/completions", json=body | {"stream": False}, headers=bearer(home, "read")).json()
    assert streamed == whole["choices"][0]["message"]["content"]
    # A random tiny model never says it is done: six tokens end it, and both replies say so.
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 6
    assert chunks[-1]["system_fingerprint"] == whole["system_fingerprint"] == home.open_kb("acme").current_version().id


def test_a_question_too_long_for_the_window_is_a_clear_error_streamed_or_not(client: TestClient, home: Home) -> None:
    body = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "Quillfeather " * 550}], "max_tokens": 6}
    whole = client.post("/v1/chat/completions", json=body, headers=bearer(home, "read"))
    assert whole.status_code == 400 and "do not fit the model's window (512 tokens)" in whole.json()["error"]["message"]
    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}, headers=bearer(home, "read")) as response:
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert json.loads(events[-1]) == whole.json()  # said as the stream's last event, with no [DONE]


@pytest.mark.parametrize("body, status", [
    ({"model": "dualbrain/acme", "messages": []}, 422),
    ({"model": "dualbrain/acme", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}, 422),
    ({"model": "dualbrain/acme", "messages": [{"role": "wizard", "content": "hi"}]}, 422),
    ({"model": "dualbrain/acme", "messages": [{"role": "user", "content": "x" * 9000}]}, 422),
    ({"model": "dualbrain/acme", "messages": [{"role": "system", "content": "only a system turn"}]}, 400),
    ({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}, 404),
    ({"model": "dualbrain/ghost", "messages": [{"role": "user", "content": "hi"}]}, 404),
])
def test_bad_requests_get_a_clear_4xx(client: TestClient, home: Home, body: dict, status: int) -> None:
    response = client.post("/v1/chat/completions", json=body, headers=bearer(home, "admin"))
    assert response.status_code == status and response.json()["error"]["message"]


def test_malformed_json_is_422(client: TestClient, home: Home) -> None:
    response = client.post("/v1/chat/completions", content=b"{not json", headers=bearer(home, "admin") | {"content-type": "application/json"})
    assert response.status_code == 422


def test_the_official_openai_client_works_unchanged(client: TestClient, home: Home) -> None:
    token = bearer(home, "read", "acme")["Authorization"].split()[1]
    openai = OpenAI(base_url="http://testserver/v1", api_key=token, http_client=client, max_retries=0)
    assert [m.id for m in openai.models.list()] == ["base", "dualbrain/acme"]
    messages = [{"role": "user", "content": "Who founded Quillfeather?"}]
    reply = openai.chat.completions.create(model="dualbrain/acme", messages=messages, max_tokens=5)
    stream = openai.chat.completions.create(model="dualbrain/acme", messages=messages, max_tokens=5, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream).strip()
    assert reply.choices[0].message.content == streamed


def test_upload_learns_in_the_worker_and_answers_switch_to_the_new_version(home: Home, tiny_model_dir: Path) -> None:
    client = TestClient(create_app(home, tiny_model_dir, worker=False))
    writer = bearer(home, "write", "acme")
    files = [("files", ("../../etc/passwd.md", b"Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n", "text/markdown")),
             ("files", ("broken.pdf", b"%PDF-1.4 not really", "application/pdf")),
             ("files", ("tool.exe", b"MZ\x00\x01", "application/octet-stream"))]
    reply = client.post("/v1/kbs/acme/documents", files=files, headers=writer)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert [d["source_name"] for d in body["added"]] == ["passwd.md"]  # the client's path is only a label
    assert sorted(p["file"] for p in body["problems"]) == ["broken.pdf", "tool.exe"]
    assert body["request"]["status"] == "queued" and not list((home.root / "uploads").iterdir())
    assert not (home.root.parent / "etc").exists()
    before = client.get("/v1/kbs/acme", headers=writer).json()["current_version"]

    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    status = client.get(f"/v1/kbs/acme/requests/{body['request']['id']}", headers=writer).json()
    assert status["status"] == "done", status
    trained = home.open_kb("acme").catalog.jobs()[-1].progress  # what the UI's loss curve is drawn from
    assert trained["step"] == trained["total_steps"] and [s for s, _ in trained["loss_history"]] == list(range(1, trained["step"] + 1))
    after = client.get("/v1/kbs/acme", headers=writer).json()
    assert after["current_version"] != before and after["pending"] == 0
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "What did Edda Vrankel found?"}], "max_tokens": 4}
    served = client.post("/v1/chat/completions", json=chat, headers=writer).json()["choices"][0]["message"]["content"]
    assert served == DualBrain.open("acme", home=home, model=tiny_model_dir).ask("What did Edda Vrankel found?", max_new_tokens=4)

    doc_id = body["added"][0]["id"]
    forgetting = client.delete(f"/v1/kbs/acme/documents/{doc_id}", headers=writer).json()["request"]
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert client.get(f"/v1/kbs/acme/requests/{forgetting['id']}", headers=writer).json()["status"] == "done"
    assert doc_id not in [d["id"] for d in client.get("/v1/kbs/acme/documents", headers=writer).json()["data"]]
    assert doc_id.encode() not in (home.root / "queue.sqlite3").read_bytes()  # the request's params are scrubbed
    assert client.delete(f"/v1/kbs/acme/documents/{doc_id}", headers=writer).status_code == 400


def test_uploads_of_nothing_usable_are_refused_and_change_nothing(client: TestClient, home: Home) -> None:
    writer = bearer(home, "write", "acme")
    before = client.get("/v1/kbs/acme/documents", headers=writer).json()
    reply = client.post("/v1/kbs/acme/documents", files=[("files", ("empty.txt", b"   \n", "text/plain"))], headers=writer)
    assert reply.status_code == 400 and "empty.txt" in reply.json()["error"]["message"]
    assert client.get("/v1/kbs/acme/documents", headers=writer).json() == before
    assert client.get("/v1/kbs/acme/requests", headers=writer).json()["data"] == []
    too_many = [("files", (f"{i}.txt", b"Some words here.", "text/plain")) for i in range(33)]
    reply = client.post("/v1/kbs/acme/documents", files=too_many, headers=writer)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == "Too many files. Maximum number of files is 32."
    assert client.post("/v1/kbs/acme/documents", files=[("files", ("a.txt", b"x y z w", "text/plain"))],
                       headers=bearer(home, "read", "acme")).status_code == 403


def test_a_request_left_running_by_a_dead_worker_runs_again(home: Home, tiny_model_dir: Path) -> None:
    queue = home.queue()
    queue.enqueue("acme", "learn")
    assert queue.claim().status == "running"  # the worker died here
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert [r.status for r in queue.list("acme")] == ["done"]


def test_alternating_knowledge_bases_never_mix_their_shards(client: TestClient, home: Home, tiny_model_dir: Path) -> None:
    headers = bearer(home, "read")
    question, tokens = "Who founded Quillfeather?", 16  # answers long enough that the two bases' differ
    expected = {kb: DualBrain.open(kb, home=home, model=tiny_model_dir).ask(question, max_new_tokens=tokens) for kb in ("acme", "other")}
    assert expected["acme"] != expected["other"]  # otherwise a mix-up could not show
    for kb in ("acme", "other", "acme", "other"):  # both knowledge bases name their first shard s0001
        body = {"model": f"dualbrain/{kb}", "messages": [{"role": "user", "content": question}], "max_tokens": tokens}
        assert client.post("/v1/chat/completions", json=body, headers=headers).json()["choices"][0]["message"]["content"] == expected[kb]


def test_the_web_ui_needs_the_key_as_a_basic_password(client: TestClient, home: Home) -> None:
    refused = client.get("/")
    assert refused.status_code == 401 and any(h.startswith("Basic ") for h in refused.headers.get_list("www-authenticate"))  # the browser asks for it
    token = home.keys().create("read", "acme")[1]
    page = client.get("/", headers=basic(token))
    assert page.status_code == 200 and "<title>dualbrain</title>" in page.text
    assert client.get("/static/app.js", headers=basic(token)).status_code == 200
    assert client.get("/v1/me", headers=basic(token)).json()["kb"] == "acme"


def test_text_completions_continue_the_prompt(client: TestClient, home: Home, tiny_model_dir: Path) -> None:
    token = bearer(home, "read", "acme")["Authorization"].split()[1]
    openai = OpenAI(base_url="http://testserver/v1", api_key=token, http_client=client, max_retries=0)
    reply = openai.completions.create(model="dualbrain/acme", prompt="Quillfeather was founded by", max_tokens=5)
    assert reply.object == "text_completion" and reply.usage.completion_tokens == 5 and reply.choices[0].finish_reason == "length"
    brain = DualBrain.open("acme", home=home, model=tiny_model_dir)
    assert reply.choices[0].text == brain.complete("Quillfeather was founded by", max_new_tokens=5).text
    stream = openai.completions.create(model="dualbrain/acme", prompt=["Quillfeather was founded by"], max_tokens=5, stream=True)
    assert "".join(chunk.choices[0].text for chunk in stream).strip() == reply.choices[0].text
    plain = openai.completions.create(model="base", prompt="Quillfeather was founded by", max_tokens=5)
    assert plain.system_fingerprint is None and reply.system_fingerprint == home.open_kb("acme").current_version().id
    for prompt in ("", [], ["a", "b"], "x" * 9000):
        body = {"model": "dualbrain/acme", "prompt": prompt}
        assert client.post("/v1/completions", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 422


def test_metrics_are_for_global_admins_only(client: TestClient, home: Home) -> None:
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "Who founded Quillfeather?"}], "max_tokens": 3}
    client.post("/v1/chat/completions", json=chat, headers=bearer(home, "read"))
    client.get("/v1/kbs/acme")  # refused: counted too
    assert client.get("/metrics", headers=bearer(home, "admin", "acme")).status_code == 403  # counters span every base
    assert client.get("/metrics", headers=bearer(home, "read")).status_code == 403
    text = client.get("/metrics", headers=bearer(home, "admin")).text
    assert 'dualbrain_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1.0' in text
    assert 'dualbrain_http_requests_total{method="GET",route="/v1/kbs/{name}",status="401"} 1.0' in text
    assert 'dualbrain_completion_tokens_total{model="knowledge"} 3.0' in text
    assert "dualbrain_knowledge_bases 2.0" in text and 'dualbrain_learning_requests{status="queued"} 0.0' in text


def test_the_latest_benchmark_report_is_served(client: TestClient, home: Home, tmp_path: Path) -> None:
    headers = bearer(home, "read", "acme")
    assert client.get("/v1/reports/latest", headers=headers).status_code == 404
    run = tmp_path / "bench-run"
    run.mkdir()
    (run / "report.md").write_text("# dualbrain benchmark\n")
    (run / "accuracy.png").write_bytes(b"\x89PNG fake")
    publish_report(home.reports_dir, run)
    report = client.get("/v1/reports/latest", headers=headers).json()
    assert report["markdown"] == "# dualbrain benchmark\n" and report["charts"] == ["accuracy.png"]
    assert client.get("/v1/reports/latest/accuracy.png", headers=headers).content == b"\x89PNG fake"
    for name in ("..%2F..%2Fkeys.sqlite3", "report.json", "missing.png"):
        assert client.get(f"/v1/reports/latest/{name}", headers=headers).status_code == 404


def test_browser_credentials_cannot_be_used_from_another_site(client: TestClient, home: Home) -> None:
    token = home.keys().create("admin")[1]
    create = {"json": {"name": "fromsite"}}
    assert client.post("/v1/kbs", headers=basic(token) | {"Sec-Fetch-Site": "cross-site"}, **create).status_code == 403
    assert client.post("/v1/kbs", headers=basic(token) | {"Origin": "http://evil.example"}, **create).status_code == 403
    assert client.get("/v1/kbs", headers=basic(token) | {"Sec-Fetch-Site": "cross-site"}).status_code == 200  # reading is not changing
    assert client.post("/v1/kbs", headers=basic(token) | {"Sec-Fetch-Site": "same-origin"}, **create).status_code == 201
    # A Bearer key is never sent by a browser on its own: API clients are not origin-checked.
    assert client.delete("/v1/kbs/fromsite", headers={"Authorization": f"Bearer {token}", "Origin": "http://x"}).status_code == 200
    page = client.get("/", headers=basic(token))
    assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_no_auth_serves_only_loopback_host_names(home: Home, tiny_model_dir: Path) -> None:
    app = create_app(home, tiny_model_dir, auth=False, worker=False)
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/v1/kbs").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/v1/kbs").status_code == 200
    assert TestClient(app, base_url="http://rebound.example").get("/v1/kbs").status_code == 403  # DNS rebinding


def test_too_many_waiting_answers_are_refused_at_once(home: Home, tiny_model_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr("dualbrain.serve.answering.MAX_WAITING_ANSWERS", 0)
    client = TestClient(create_app(home, tiny_model_dir, worker=False))
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "Who founded Quillfeather?"}], "max_tokens": 3}
    for stream in (False, True):
        response = client.post("/v1/chat/completions", json=chat | {"stream": stream}, headers=bearer(home, "read"))
        assert response.status_code == 429 and response.json()["error"]["type"] == "rate_limit_error"
    assert client.get("/health").status_code == 200


def test_bodies_are_read_only_within_their_routes_limit_and_the_keys_scope(home: Home, tiny_model_dir: Path,
                                                                             monkeypatch) -> None:
    monkeypatch.setattr("dualbrain.serve.app.MAX_JSON_BYTES", 100)
    monkeypatch.setattr("dualbrain.serve.routes.knowledge_bases.MAX_UPLOAD_BYTES", 1000)
    parsed = []
    parse = MultiPartParser.parse
    monkeypatch.setattr(MultiPartParser, "parse", lambda self: parsed.append(1) or parse(self))
    client = TestClient(create_app(home, tiny_model_dir, worker=False))
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "x" * 100}]}
    reply = client.post("/v1/chat/completions", json=chat, headers=bearer(home, "read"))
    assert reply.status_code == 413 and reply.json()["error"]["message"] == "request bodies are limited to 100 bytes"
    big = [("files", ("big.txt", b"word " * 300, "text/plain"))]
    # A key that may not upload here is refused before the body is read, whatever its size.
    assert client.post("/v1/kbs/acme/documents", files=big, headers=bearer(home, "read", "acme")).status_code == 403
    assert client.post("/v1/kbs/acme/documents", files=big, headers=bearer(home, "write", "other")).status_code == 404
    assert not parsed
    reply = client.post("/v1/kbs/acme/documents", files=big, headers=bearer(home, "write", "acme"))
    assert reply.status_code == 413 and reply.json()["error"]["message"] == "an upload is limited to 1,000 bytes" and not parsed
    small = [("files", ("small.txt", b"Edda Vrankel flies gliders.", "text/plain"))]
    assert client.post("/v1/kbs/acme/documents", files=small, headers=bearer(home, "write", "acme")).status_code == 202
    assert parsed


def test_uploads_past_a_knowledge_bases_quota_are_refused_with_a_clear_status(home: Home, tiny_model_dir: Path) -> None:
    writer = bearer(home, "write", "acme")
    held = sum(doc.chars for doc in home.open_kb("acme").documents())
    text = "Edda Vrankel flies gliders over Marrowgate."
    stored = TestClient(create_app(home, tiny_model_dir, worker=False, quotas=Quotas(held + len(text), None)))
    files = [("files", ("a.md", text.encode(), "text/markdown")), ("files", ("b.md", b"Orla Quennet builds kites.", "text/markdown"))]
    reply = stored.post("/v1/kbs/acme/documents", files=files, headers=writer)
    assert reply.status_code == 202 and [d["source_name"] for d in reply.json()["added"]] == ["a.md"]
    assert "would pass its quota" in reply.json()["problems"][0]["reason"]  # the second file, reported
    reply = stored.post("/v1/kbs/acme/documents", files=files[1:], headers=writer)
    assert reply.status_code == 413 and "would pass its quota" in reply.json()["error"]["message"]
    hourly = TestClient(create_app(home, tiny_model_dir, worker=False, quotas=Quotas(None, len(text) + 5)))
    reply = hourly.post("/v1/kbs/acme/documents", files=files[1:], headers=writer)  # a.md was added a moment ago
    assert reply.status_code == 429 and 3500 < int(reply.headers["retry-after"]) <= 3601
    assert "characters were added in the last hour" in reply.json()["error"]["message"]


def test_uploads_beyond_those_received_at_once_are_refused_before_they_are_read(home: Home, tiny_model_dir: Path,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr("dualbrain.serve.routes.knowledge_bases._UPLOAD_SLOTS", asyncio.Semaphore(0))  # all taken
    files = [("files", ("a.md", b"Orla Quennet builds kites.", "text/markdown"))]
    reply = TestClient(create_app(home, tiny_model_dir, worker=False)).post(
        "/v1/kbs/acme/documents", files=files, headers=bearer(home, "write", "acme"))
    assert reply.status_code == 429 and reply.json()["error"]["message"] == "too many uploads at once; retry in a moment"
    assert not (home.root / "uploads").exists() or not any((home.root / "uploads").iterdir())


def test_a_long_upload_name_is_cut_by_its_bytes_and_keeps_its_type(client: TestClient, home: Home) -> None:
    files = [("files", ("é" * 150 + ".md", "Gliders are flown by Edda Vrankel.".encode(), "text/markdown"))]
    reply = client.post("/v1/kbs/acme/documents", files=files, headers=bearer(home, "write", "acme"))
    assert reply.status_code == 202, reply.json()
    name = reply.json()["added"][0]["source_name"]
    assert name.endswith(".md") and len(name.encode()) <= 200 and name == "é" * 98 + ".md"


def test_deleting_a_knowledge_base_ends_its_keys_and_queue(client: TestClient, home: Home) -> None:
    admin, other_reader = bearer(home, "admin"), bearer(home, "read", "other")
    home.queue().enqueue("other", "learn")
    assert client.delete("/v1/kbs/other", headers=admin).status_code == 200
    assert client.post("/v1/kbs", json={"name": "other"}, headers=admin).status_code == 201  # a new base, same name
    assert client.get("/v1/kbs/other", headers=other_reader).status_code == 401  # the old key is dead
    assert home.queue().list("other") == []
    chat = {"model": "dualbrain/other", "messages": [{"role": "user", "content": "Who sells cheese?"}], "stream": True}
    refused = client.post("/v1/chat/completions", json=chat, headers=admin)  # learned nothing yet: a clear 400, not an empty stream
    assert refused.status_code == 400 and "not learned anything" in refused.json()["error"]["message"]


def test_deleting_a_knowledge_base_is_refused_while_a_job_runs_on_it(client: TestClient, home: Home) -> None:
    admin = bearer(home, "admin")
    with home.open_kb("other").job_lock():  # the worker is learning it
        reply = client.delete("/v1/kbs/other", headers=admin)
    assert reply.status_code == 409 and reply.json()["error"]["type"] == "conflict"
    assert client.get("/v1/kbs/other", headers=admin).status_code == 200
    assert client.delete("/v1/kbs/other", headers=admin).status_code == 200


def test_rollback_is_refused_while_a_job_holds_the_knowledge_base(client: TestClient, home: Home, tmp_path: Path,
                                                                  tiny_model_dir: Path) -> None:
    kb = home.open_kb("acme")
    (tmp_path / "more.md").write_text("Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n")
    DualBrain.open("acme", home=home, model=tiny_model_dir).learn([tmp_path / "more.md"], FAST)
    writer = bearer(home, "write", "acme")
    with kb.job_lock():  # a learn is publishing: a rollback now would be undone by it
        refused = client.post("/v1/kbs/acme/rollback", json={"version": "v0001"}, headers=writer)
    assert refused.status_code == 409 and "try again" in refused.json()["error"]["message"]
    assert kb.current_version().id == "v0002"
    assert client.post("/v1/kbs/acme/rollback", json={"version": "v0001"}, headers=writer).json() == {"current_version": "v0001"}


def test_an_upload_answers_from_the_short_term_memory_until_it_is_learned(client: TestClient, home: Home,
                                                                          tiny_model_dir: Path) -> None:
    writer = bearer(home, "write", "acme")
    files = [("files", ("drone.md", b"The Corvex C3 survey drone weighs 2.4 kg.\n", "text/markdown"))]
    doc_id = client.post("/v1/kbs/acme/documents", files=files, headers=writer).json()["added"][0]["id"]
    memories = {d["id"]: d["memory"] for d in client.get("/v1/kbs/acme/documents", headers=writer).json()["data"]}
    assert memories.pop(doc_id) == "short-term" and set(memories.values()) == {"weights"}
    assert client.get("/v1/kbs/acme", headers=writer).json()["short_term"] == 1
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "What does the Corvex C3 weigh?"}], "max_tokens": 4}
    assert client.post("/v1/chat/completions", json=chat, headers=writer).json()["memory"] == "short-term"
    with client.stream("POST", "/v1/chat/completions", json=chat | {"stream": True}, headers=writer) as response:
        last = [line for line in response.iter_lines() if line.startswith("data: {")][-1]
    assert json.loads(last[len("data: "):])["memory"] == "short-term"
    assert client.post("/v1/chat/completions", json=chat | {"short_term": False}, headers=writer).json()["memory"] != "short-term"
    weights_only = TestClient(create_app(home, tiny_model_dir, worker=False, short_term=False))  # `serve --no-short-term`
    assert weights_only.post("/v1/chat/completions", json=chat, headers=writer).json()["memory"] != "short-term"

    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert {d["memory"] for d in client.get("/v1/kbs/acme/documents", headers=writer).json()["data"]} == {"weights"}
    assert client.post("/v1/chat/completions", json=chat, headers=writer).json()["memory"] == "knowledge"
    # Forget: neither memory answers for it from the moment it is asked for, before the worker has retrained.
    assert client.delete(f"/v1/kbs/acme/documents/{doc_id}", headers=writer).status_code == 202
    view = next(d for d in client.get("/v1/kbs/acme/documents", headers=writer).json()["data"] if d["id"] == doc_id)
    assert view["status"] == "forgetting" and view["memory"] is None
    assert client.post("/v1/chat/completions", json=chat, headers=writer).json()["memory"] is None


def test_a_knowledge_base_that_learned_nothing_yet_answers_from_its_uploads(client: TestClient, home: Home) -> None:
    admin = bearer(home, "admin")
    client.post("/v1/kbs", json={"name": "fresh"}, headers=admin)
    chat = {"model": "dualbrain/fresh", "messages": [{"role": "user", "content": "What does the Corvex C3 weigh?"}], "max_tokens": 4}
    assert "not learned anything" in client.post("/v1/chat/completions", json=chat, headers=admin).json()["error"]["message"]
    files = [("files", ("drone.md", b"The Corvex C3 survey drone weighs 2.4 kg.\n", "text/markdown"))]
    assert client.post("/v1/kbs/fresh/documents", files=files, headers=admin).status_code == 202
    reply = client.post("/v1/chat/completions", json=chat, headers=admin).json()
    assert reply["memory"] == "short-term" and reply["system_fingerprint"] is None
    refused = client.post("/v1/chat/completions", json=chat | {"short_term": False}, headers=admin)
    assert refused.status_code == 400 and "not learned anything" in refused.json()["error"]["message"]


def _reachable_strings(root: object) -> set[str]:
    """Every string held by ``root``'s objects (dicts, sequences, attributes), models and tensors aside."""
    seen, found, todo = set(), set(), [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, (torch.nn.Module, torch.Tensor, type)):
            continue
        seen.add(id(item))
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo += list(item)
        elif hasattr(item, "__dict__"):
            todo += list(vars(item).values())
        elif hasattr(item, "__slots__"):
            todo += [getattr(item, name) for name in item.__slots__ if hasattr(item, name)]
    return found


def test_a_forgotten_document_leaves_the_servers_memory_without_a_further_question(home: Home, tiny_model_dir: Path,
                                                                                   tmp_path: Path) -> None:
    secret = tmp_path / "vault.md"
    secret.write_text("The vault code of Quillfeather Aeronautics is ZX-4471.\n")
    brain = DualBrain.open("acme", home=home, model=tiny_model_dir)
    doc_id = brain.learn([secret], FAST).ingest.added[0].id
    app = create_app(home, tiny_model_dir, worker=False)
    answerer = app.state.services.answerer
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "What is the vault code of Quillfeather?"}],
            "max_tokens": 3}
    assert TestClient(app).post("/v1/chat/completions", json=chat, headers=bearer(home, "read")).status_code == 200
    shard_id = home.open_kb("acme").current_version().shard_ids[-1]  # the vault document's own shard
    held = lambda: any("ZX-4471" in text or doc_id in text for text in _reachable_strings(answerer))  # noqa: E731
    assert held() and shard_id in _reachable_strings(answerer)  # its shard is on the model
    brain.forget(doc_id)  # as the worker does, in its own process
    answerer.drop_stale()
    assert not held() and shard_id not in _reachable_strings(answerer)
    assert answerer.library.open("acme").ask("What is the vault code of Quillfeather?", max_new_tokens=3) is not None


def test_a_knowledge_bases_router_is_built_outside_the_answer_lock_all_bases_share(home: Home, tiny_model_dir: Path,
                                                                                    monkeypatch) -> None:
    app = create_app(home, tiny_model_dir, worker=False)
    answerer, built = app.state.services.answerer, []
    router = modes.ShardRouter

    def checked_router(*args, **kwargs):
        built.append(answerer._lock.locked())  # embedding every passage must not hold up other bases' answers
        return router(*args, **kwargs)

    monkeypatch.setattr(modes, "ShardRouter", checked_router)
    chat = {"model": "dualbrain/acme", "messages": [{"role": "user", "content": "Who founded Quillfeather?"}], "max_tokens": 2}
    assert TestClient(app).post("/v1/chat/completions", json=chat, headers=bearer(home, "read")).status_code == 200
    assert built == [False]
