"""`dualbrain bench serving`: answering while learning, through the real server.

A knowledge base learns one fictional organisation. Then ``dualbrain serve``'s app runs on loopback with
its learning worker process, one more organisation's documents are uploaded (as one file) over HTTP, and
``clients`` chat clients ask questions about both organisations in parallel, again and again, until the
worker has learned the upload and published the new version (and once more after). Measured: answers and
errors, latency percentiles, which version answered (``system_fingerprint``) and from which memory (the upload
answers from its passages until its shard is published), and whether each answer is exactly what its version
answers alone (the old one with the upload in its short-term memory) — a request served half by the old and
half by the new version, or by a mix of shards, would differ. Before the upload, the base organisation's
questions are asked one at a time on the idle server: how much slower the same questions are while the
worker learns is the price of answering while learning (``serve/cores.py`` splits the cores between the two;
with ``--clients 1`` it is one chat's slowdown, with more it includes waiting for the others' answers).

Questions are asked, never trained on; documents are the only training data.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from dualbrain.api import DualBrain
from dualbrain.bench.changes import write_documents, write_handbook
from dualbrain.bench.fictional import generate_organisations, organisation_corpus
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.serve.app import create_app
from dualbrain.serve.local import serving_in_thread
from dualbrain.store import Home

KB = "serving"


@dataclass(frozen=True)
class ServingConfig:
    clients: int = 16
    seed: int = 0
    max_tokens: int = 32
    questions: int = 8  # per organisation

    def __post_init__(self) -> None:
        if self.clients < 1 or self.questions < 1:
            raise ValueError("--clients and the questions per organisation must be at least 1")


@dataclass(frozen=True)
class ChatResult:
    client: int
    question: str
    started: float  # seconds after the load began
    seconds: float
    status: int  # HTTP status; 0 when no response came
    version: str | None  # the knowledge version that answered
    memory: str | None  # which memory answered: knowledge, short-term, both, or None (the plain model)
    text: str
    error: str | None


def chat_load(url: str, token: str, model_id: str, questions: list[str], clients: int, keep_going: Callable[[], bool],
              max_tokens: int) -> list[ChatResult]:
    """``clients`` threads asking ``questions`` in turn (each from its own offset) until ``keep_going()``
    is false; every client asks at least once, and once more after ``keep_going()`` turned false."""
    results: list[ChatResult] = []
    lock = threading.Lock()
    began = time.perf_counter()

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None) as http:
            turn = 0
            while True:
                going = keep_going()
                question = questions[(index + turn) % len(questions)]
                body = {"model": model_id, "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
                started = time.perf_counter()
                try:
                    response = http.post("/v1/chat/completions", json=body)
                    reply = response.json()
                    ok = response.status_code == 200
                    result = ChatResult(index, question, started - began, time.perf_counter() - started, response.status_code,
                                        reply.get("system_fingerprint") if ok else None, reply.get("memory") if ok else None,
                                        reply["choices"][0]["message"]["content"] if ok else "",
                                        None if ok else str(reply.get("error")))
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    result = ChatResult(index, question, started - began, time.perf_counter() - started, 0, None, None, "",
                                        repr(error))
                with lock:
                    results.append(result)
                turn += 1
                if not going:
                    return

    threads = [threading.Thread(target=client, args=(i,), name=f"chat-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results, key=lambda r: r.started)


def summarise(results: list[ChatResult], reference: dict[str, dict[str, str]], idle: dict[str, float],
              learning_version: str) -> dict:
    """Counts, latency percentiles (seconds), versions and memories seen, answers that differ from what their version
    answers alone (``reference[version][question]``), and the median slowdown of the questions timed on the idle
    server (``idle``: question → seconds) while ``learning_version`` served and the worker learned."""
    answered = [r for r in results if r.status == 200]
    latencies = sorted(r.seconds for r in answered)
    differing = [r for r in answered if reference.get(r.version, {}).get(r.question) != r.text]
    slowdowns = [r.seconds / idle[r.question] for r in answered if r.version == learning_version and r.question in idle]
    return {
        "requests": len(results),
        "answered": len(answered),
        "errors": len(results) - len(answered),
        "latency_p50": round(_percentile(latencies, 50), 2),
        "latency_p95": round(_percentile(latencies, 95), 2),
        "latency_max": round(latencies[-1], 2) if latencies else None,
        "versions": {v: sum(r.version == v for r in answered) for v in sorted({r.version for r in answered}, key=str)},
        "memories": {m: sum(r.memory == m for r in answered) for m in sorted({r.memory for r in answered}, key=str)},
        "differing_from_their_version": len(differing),
        "idle_latency_p50": round(statistics.median(idle.values()), 2) if idle else None,
        "slowdown_while_learning_p50": round(statistics.median(slowdowns), 2) if slowdowns else None,
    }


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_serving(
    config: ServingConfig,
    out_dir: Path,
    model: str | Path | None,
    learn_config: LearnConfig,
    models_dir: Path | None = None,
    on_progress: Callable[[LearnProgress], None] | None = None,
    on_status: Callable[[dict | None], None] | None = None,
) -> dict:
    """Learn the base, then chat with ``config.clients`` clients while the server's worker learns an upload."""
    base, added = (organisation_corpus(o) for o in generate_organisations(2, config.seed))
    home = Home(out_dir / "home", models_dir)
    brain = DualBrain.open(KB, home=home, model=model, create=True)
    brain.learn([write_documents(out_dir / "base", [base])], learn_config, on_progress)
    # As many of each organisation's: the base's are answered from the weights, the upload's from its passages until
    # the worker has learned it.
    base_questions, added_questions = ([q.question for q in corpus.questions if q.answers][: config.questions]
                                       for corpus in (base, added))
    questions = base_questions + added_questions
    before = brain.kb.current_version().id
    handbook = write_handbook(out_dir / "added" / "handbook.md", [added])
    token = home.keys().create("write", KB)[1]

    app = create_app(home, model, learn_config=learn_config)  # with its learning worker process
    with serving_in_thread(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            idle = _idle_latencies(http, base_questions, config.max_tokens)  # before the upload: nothing learns
            upload = http.post(f"/v1/kbs/{KB}/documents", files=[("files", (handbook.name, handbook.read_bytes()))])
            upload.raise_for_status()
            request_id = upload.json()["request"]["id"]
            learning = {"status": "queued", "seconds": None}
            learn_started = time.perf_counter()

            def keep_going() -> bool:
                return learning["status"] in ("queued", "running")

            def watch() -> None:
                try:
                    while keep_going():
                        view = http.get(f"/v1/kbs/{KB}/requests/{request_id}").json()
                        learning["status"] = view["status"]
                        if on_status:
                            on_status(view.get("progress"))
                        time.sleep(1)
                except Exception as error:  # the clients must stop whatever happens here
                    learning["status"] = f"unknown (watching failed: {error!r})"
                learning["seconds"] = round(time.perf_counter() - learn_started, 1)

            watcher = threading.Thread(target=watch, name="learning-watch")
            watcher.start()
            results = chat_load(url, token, f"dualbrain/{KB}", questions, config.clients, keep_going, config.max_tokens)
            watcher.join()

    after = brain.kb.current_version().id
    reference = {after: {q: brain.ask(q, max_new_tokens=config.max_tokens) for q in questions}}
    brain.rollback(before)  # the old version with the upload in its short-term memory, as the clients had it
    reference[before] = {q: brain.ask(q, max_new_tokens=config.max_tokens) for q in questions}
    brain.rollback(after)
    return {
        "config": asdict(config),
        "base_model": brain.reasoning.name,
        "learning": {"status": learning["status"], "seconds": learning["seconds"], "version_before": before, "version_after": after},
        "summary": summarise(results, reference, idle, before),
        "requests": [asdict(r) for r in results],
    }


def _idle_latencies(http: httpx.Client, questions: list[str], max_tokens: int) -> dict[str, float]:
    """Each question asked once, one at a time, on the idle server (after one answer that loads the model)."""
    def ask(question: str) -> float:
        started = time.perf_counter()
        body = {"model": f"dualbrain/{KB}", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
        http.post("/v1/chat/completions", json=body).raise_for_status()
        return time.perf_counter() - started

    ask(questions[0])
    return {question: ask(question) for question in questions}


def serving_markdown(report: dict) -> str:
    s, learning, c = report["summary"], report["learning"], report["config"]
    return "\n".join([
        "# dualbrain bench serving",
        "",
        f"{c['clients']} chat clients against `dualbrain serve` ({report['base_model']}) while its worker learned an "
        f"upload ({learning['status']} after {learning['seconds']} s: {learning['version_before']} → {learning['version_after']}); "
        f"answers of at most {c['max_tokens']} tokens.",
        "",
        "| requests | answered | errors | p50 s | p95 s | max s | answered by version | by memory "
        "| differing from their version alone |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s['requests']} | {s['answered']} | {s['errors']} | {s['latency_p50']} | {s['latency_p95']} | {s['latency_max']} | "
        f"{', '.join(f'{v}: {n}' for v, n in s['versions'].items())} | "
        f"{', '.join(f'{m}: {n}' for m, n in s['memories'].items())} | {s['differing_from_their_version']} |",
        "",
        f"The base organisation's questions took {s['idle_latency_p50']} s each (median) on the idle server, and "
        f"{s['slowdown_while_learning_p50']}× that (median) while the worker learned.",
        "",
    ])
