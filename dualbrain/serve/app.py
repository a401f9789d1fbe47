"""The FastAPI application: OpenAI-compatible chat and models, knowledge-base routes, health.

Model ids: ``base`` is the plain reasoning network; ``dualbrain/<kb>`` answers with knowledge base
``<kb>``'s knowledge (nothing retrieved goes into the prompt). Errors come back in OpenAI's shape
(``{"error": {"message", "type"}}``) with a 4xx status; a user's mistake is never a 500.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError, JobRunning, KnowledgeBaseExists, UnknownKnowledgeBase
from dualbrain.ingest.readers import MAX_DOCUMENT_BYTES
from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.reasoning.generate import Generation
from dualbrain.serve.answering import BASE_MODEL_ID, KB_MODEL_PREFIX, Answerer, Busy
from dualbrain.serve.auth import RequireApiKey, authorize
from dualbrain.serve.metrics import CountRequests, ServerMetrics
from dualbrain.serve.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    CreateKnowledgeBase,
    Rollback,
    chat_chunk,
    chat_completion,
    completion_id,
    finish_reason,
    text_chunk,
    text_completion,
)
from dualbrain.serve.worker import start_worker_process
from dualbrain.store import Home
from dualbrain.store.queue import WorkRequest
from dualbrain.store.reports import PUBLISHED_SUFFIXES, latest_report

DEFAULT_CHAT_TOKENS = 256
MAX_UPLOAD_FILES = 32
MAX_REQUEST_BYTES = 256 << 20  # one upload's files together; each file also ≤ MAX_DOCUMENT_BYTES
_CHUNK = 1 << 20
_SQLITE_MAX_INT = (1 << 63) - 1
UI_DIR = Path(__file__).parent / "ui"


def create_app(home: Home, model: str | Path | None = None, auth: bool = True, worker: bool = True,
               learn_config: LearnConfig | None = None, consolidate: bool = False, engine: str = "torch") -> FastAPI:
    """The server for ``home``'s knowledge bases; ``auth=False`` (loopback only, see the CLI) opens every
    route; ``worker`` starts the learning worker process with the server (tests may run the queue
    themselves), which learns with ``learn_config`` (default: the recipe's) and, with ``consolidate``,
    consolidates what it taught when idle. ``engine`` computes the answers (torch or llama.cpp)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        shutil.rmtree(home.root / "uploads", ignore_errors=True)  # what a crash left mid-upload was never added
        process = start_worker_process(home, model, learn_config, consolidate) if worker else None
        yield
        if process is not None:
            process.terminate()  # an interrupted learn publishes nothing; its request is queued again next start
            process.join(timeout=10)

    app = FastAPI(title="dualbrain", version="0.1", docs_url=None, redoc_url=None, lifespan=lifespan)
    answerer = Answerer(home, model, engine)
    queue = home.queue()
    metrics = ServerMetrics(home, queue)
    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuse an oversized body before anything reads it (multipart parsing would spool it all to disk)."""
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            if length is None and "chunked" in request.headers.get("transfer-encoding", ""):
                return _error(411, "send a Content-Length (chunked bodies are refused)", "invalid_request_error")
            if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_BYTES):
                return _error(413, f"requests are limited to {MAX_REQUEST_BYTES >> 20} MB", "invalid_request_error")
        return await call_next(request)

    app.add_middleware(RequireApiKey, keys=home.keys() if auth else None)  # outside the body limit: keys first
    app.add_middleware(CountRequests, metrics=metrics, routes=app.router.routes)  # added last = outermost: refused requests count too
    app.mount("/static", StaticFiles(directory=UI_DIR), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), "invalid_request_error")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(422, f"invalid request: {where}: {first.get('msg', 'malformed')}", "invalid_request_error")

    @app.exception_handler(UnknownKnowledgeBase)
    async def unknown_kb(request: Request, error: UnknownKnowledgeBase) -> JSONResponse:
        return _error(404, str(error), "not_found")

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        return _error(429, str(error), "rate_limit_error")

    @app.exception_handler(JobRunning)
    async def job_running(request: Request, error: JobRunning) -> JSONResponse:
        return _error(409, str(error), "conflict")

    @app.exception_handler(DualBrainError)
    async def user_error(request: Request, error: DualBrainError) -> JSONResponse:
        return _error(400, str(error), "invalid_request_error")

    @app.get("/health")
    async def health() -> dict:  # async: answered on the event loop even when every worker thread is busy
        return {"status": "ok"}

    @app.get("/v1/models")
    def models(request: Request) -> dict:
        key = request.state.key
        visible = [kb for kb in home.list_kbs() if key.allows("read", kb)]
        ids = [BASE_MODEL_ID] + [KB_MODEL_PREFIX + kb for kb in visible]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "dualbrain"} for i in ids]}

    @app.get("/")
    def web_ui() -> FileResponse:
        return FileResponse(UI_DIR / "index.html")

    @app.get("/metrics")
    def prometheus(request: Request) -> Response:
        authorize(request, "admin")  # counters cover every knowledge base: a key for one may not read them
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/me")
    def me(request: Request) -> dict:
        """The caller's key: what the web UI may offer (upload needs write, creating bases admin)."""
        key = request.state.key
        return {"key_id": key.id, "kb": key.kb, "scope": key.scope}

    async def respond(request: Request, body: ChatCompletionRequest | CompletionRequest, text: str | None, chat: bool):
        kb = _knowledge_base_of(body.model)
        # The plain model holds no one's knowledge: any key that may read may use it.
        authorize(request, "read", kb if kb is not None else request.state.key.kb)
        if kb is not None and home.open_kb(kb).current_version() is None:  # 404 for an unknown one, first
            raise HTTPException(400, f"knowledge base '{kb}' has not learned anything yet")
        if text is None:
            raise HTTPException(400, "the messages hold no user question")
        max_new_tokens = body.max_tokens if not chat else (body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS)
        request_id = completion_id("chatcmpl" if chat else "cmpl")
        if body.stream:
            # The first chunk goes out only once the answer has a slot, so a busy server still says 429.
            stream = _stream(answerer, metrics, kb, text, max_new_tokens, request_id, body.model, chat)
            await anext(stream)
            return EventSourceResponse(stream)
        generation = await answerer.run_async(lambda: answerer.generate(kb, text, max_new_tokens, None, chat))
        metrics.observe_answer(kb is not None, generation.total_seconds, generation.completion_tokens)
        return (chat_completion if chat else text_completion)(request_id, body.model, generation, max_new_tokens)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, body: ChatCompletionRequest):
        return await respond(request, body, body.question(), chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request, body: CompletionRequest):
        return await respond(request, body, body.prompt, chat=False)

    @app.get("/v1/reports/latest")
    def report(request: Request) -> dict:
        """The latest ``dualbrain bench`` report of this home (the benchmark's own corpus, no tenant's data)."""
        folder = latest_report(home.reports_dir)
        if folder is None or not (folder / "report.md").exists():
            raise HTTPException(404, "no benchmark report yet (run: dualbrain bench)")
        return {"created": folder.name, "markdown": (folder / "report.md").read_text(),
                "charts": sorted(p.name for p in folder.iterdir() if p.suffix == ".png")}

    @app.get("/v1/reports/latest/{file}")
    def report_file(request: Request, file: str) -> FileResponse:
        folder = latest_report(home.reports_dir)
        published = {p.name: p for p in folder.iterdir() if p.suffix in PUBLISHED_SUFFIXES} if folder else {}
        if file not in published:  # only a listed name, never a path built from the request
            raise HTTPException(404, f"no report file '{file}'")
        return FileResponse(published[file])

    @app.get("/v1/kbs")
    def list_kbs(request: Request) -> dict:
        key = request.state.key
        return {"data": [_kb_summary(home, name) for name in home.list_kbs() if key.allows("read", name)]}

    @app.post("/v1/kbs", status_code=201)
    def create_kb(request: Request, body: CreateKnowledgeBase) -> dict:
        authorize(request, "admin")
        try:
            home.create_kb(body.name)
        except KnowledgeBaseExists as error:
            raise HTTPException(409, str(error)) from None
        return _kb_summary(home, body.name)

    @app.get("/v1/kbs/{name}")
    def show_kb(request: Request, name: str) -> dict:
        authorize(request, "read", name)
        return _kb_summary(home, name)

    @app.delete("/v1/kbs/{name}")
    def delete_kb(request: Request, name: str) -> dict:
        authorize(request, "admin", name)
        home.open_kb(name)
        answerer.forget_brain(name)
        home.delete_kb(name)
        return {"deleted": name}

    @app.get("/v1/kbs/{name}/documents")
    def documents(request: Request, name: str) -> dict:
        authorize(request, "read", name)
        return {"data": [
            {"id": d.id, "source_name": d.source_name, "format": d.format, "chars": d.chars, "status": d.status, "added_at": d.added_at}
            for d in home.open_kb(name).documents()
        ]}

    @app.post("/v1/kbs/{name}/documents", status_code=202)
    async def upload(request: Request, name: str, files: list[UploadFile] = File(...)) -> dict:
        """Add documents and queue their learning; per-file problems come back, the rest goes in."""
        authorize(request, "write", name)
        kb = home.open_kb(name)
        if len(files) > MAX_UPLOAD_FILES:
            raise HTTPException(413, f"at most {MAX_UPLOAD_FILES} files per upload")
        staging = home.root / "uploads"
        staging.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=staging))
        try:
            paths, too_large = await _save_uploads(files, folder)
            report = await run_in_threadpool(DualBrain(kb, home).add, paths) if paths else None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        problems = [{"file": name_, "reason": f"larger than {MAX_DOCUMENT_BYTES // (1 << 20)} MB"} for name_ in too_large]
        # Sources may be our temporary paths: only the file's name goes back to the client.
        problems += [{"file": Path(p.source).name, "reason": p.reason} for p in (report.problems if report else [])]
        added = [{"id": d.id, "source_name": d.source_name, "chars": d.chars} for d in (report.added if report else [])]
        if not added:
            raise HTTPException(400, "no document was added: " + "; ".join(f"{p['file']}: {p['reason']}" for p in problems))
        work = queue.enqueue(name, "learn")
        return {"added": added, "problems": problems, "replaced": report.replaced, "request": _request_view(home, work)}

    @app.delete("/v1/kbs/{name}/documents/{document_id}", status_code=202)
    def forget(request: Request, name: str, document_id: str) -> dict:
        authorize(request, "write", name)
        home.open_kb(name).catalog.get_document(document_id)  # unknown ids fail now, not in the worker
        return {"request": _request_view(home, queue.enqueue(name, "forget", {"document_id": document_id}))}

    @app.post("/v1/kbs/{name}/rollback")
    def rollback(request: Request, name: str, body: Rollback) -> dict:
        authorize(request, "write", name)
        version = DualBrain(home.open_kb(name), home).rollback(body.version)
        return {"current_version": version.id}

    @app.get("/v1/kbs/{name}/requests")
    def requests(request: Request, name: str) -> dict:
        authorize(request, "read", name)
        home.open_kb(name)
        return {"data": [_request_view(home, work) for work in queue.list(name)]}

    @app.get("/v1/kbs/{name}/requests/{request_id}")
    def request_status(request: Request, name: str, request_id: Annotated[int, PathParam(ge=1, le=_SQLITE_MAX_INT)]) -> dict:
        authorize(request, "read", name)
        home.open_kb(name)
        try:
            work = queue.get(request_id)
        except DualBrainError:
            work = None
        if work is None or work.kb != name:  # another knowledge base's request does not exist for this key
            raise HTTPException(404, f"unknown request {request_id}")
        return _request_view(home, work)

    @app.get("/v1/kbs/{name}/versions")
    def versions(request: Request, name: str) -> dict:
        authorize(request, "read", name)
        kb = home.open_kb(name)
        current = kb.current_version()
        return {"data": [
            {"id": v.id, "created_at": v.created_at, "documents": v.document_ids, "shards": v.shard_ids,
             "current": current is not None and v.id == current.id}
            for v in kb.catalog.versions()
        ]}

    return app


async def _save_uploads(files: list[UploadFile], folder: Path) -> tuple[list[Path], list[str]]:
    """Write uploads into ``folder`` under safe names (the client's name is only a label: never a path);
    files over the size limit are cut off while streaming and reported, not stored."""
    paths, too_large = [], []
    for index, upload in enumerate(files):
        name = _safe_name(upload.filename or "", index)
        path = folder / name
        if path.exists():  # the same name twice: the index (unique per upload) makes its own folder
            (folder / str(index)).mkdir()
            path = folder / str(index) / name
        size = 0
        with open(path, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    break
                out.write(chunk)
        if size > MAX_DOCUMENT_BYTES:
            path.unlink()
            too_large.append(name)
        else:
            paths.append(path)
    return paths, too_large


def _safe_name(filename: str, index: int) -> str:
    """The last component of a client's file name (either slash), without control characters or leading dots."""
    base = PureWindowsPath(PurePosixPath(filename).name).name
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).lstrip(".").strip()
    return base[:200] or f"upload-{index}"


def _request_view(home: Home, work: WorkRequest) -> dict:
    """A queued request, with the live training progress of its knowledge base while it runs."""
    view = {"id": work.id, "kind": work.kind, "status": work.status, "error": work.error,
            "created_at": work.created_at, "updated_at": work.updated_at}
    if work.status == "running":
        jobs = home.open_kb(work.kb).catalog.jobs()
        view["progress"] = jobs[-1].progress if jobs and jobs[-1].status in ("queued", "running") else None
    return view


def _knowledge_base_of(model_id: str) -> str | None:
    if model_id == BASE_MODEL_ID:
        return None
    if model_id.startswith(KB_MODEL_PREFIX) and len(model_id) > len(KB_MODEL_PREFIX):
        return model_id[len(KB_MODEL_PREFIX):]
    raise HTTPException(404, f"unknown model '{model_id}' (use '{BASE_MODEL_ID}' or '{KB_MODEL_PREFIX}<knowledge base>'; see /v1/models)")


def _kb_summary(home: Home, name: str) -> dict:
    kb = home.open_kb(name)
    version = kb.current_version()
    documents = kb.documents()
    return {"name": name, "model": KB_MODEL_PREFIX + name, "documents": len(documents),
            "pending": sum(d.status == "pending" for d in documents), "current_version": version.id if version else None}


async def _stream(answerer: Answerer, metrics: ServerMetrics, kb: str | None, text: str, max_new_tokens: int,
                  request_id: str, model: str, chat: bool):
    """OpenAI chunks as server-sent events: (for chat) the role, each piece of text as it is generated,
    the end with its finish reason and the answering version, then [DONE]."""
    chunk = chat_chunk if chat else text_chunk
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()

    def put(piece: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    def generate() -> Generation:
        try:
            return answerer.generate(kb, text, max_new_tokens, put, chat)
        finally:
            loop.call_soon_threadsafe(pieces.put_nowait, None)

    worker = answerer.run_async(generate)  # raises Busy (429) when too many answers wait
    yield None  # respond() takes this: the slot is held, the response can start
    if chat:
        yield json.dumps(chunk(request_id, model, {"role": "assistant", "content": ""}))
    while (piece := await pieces.get()) is not None:
        yield json.dumps(chunk(request_id, model, {"content": piece}))
    generation = await worker  # re-raises a generation error, which ends the stream without [DONE]
    metrics.observe_answer(kb is not None, generation.total_seconds, generation.completion_tokens)
    yield json.dumps(chunk(request_id, model, {}, finish_reason(generation, max_new_tokens), generation))
    yield "[DONE]"


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)

