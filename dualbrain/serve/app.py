"""The FastAPI application: the OpenAI-compatible, knowledge-base and report routes (``serve/routes/``), with
API keys, request limits, metrics, the web UI and the learning worker around them.

Errors come back in OpenAI's shape (``{"error": {"message", "type"}}``) with a 4xx status; a user's mistake is
never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match

from dualbrain.answering import AnswerConfig
from dualbrain.errors import DualBrainError, JobRunning, UnknownKnowledgeBase
from dualbrain.knowledge.config import LearnConfig
from dualbrain.library import Library
from dualbrain.serve.answering import Answerer, Busy
from dualbrain.serve.auth import RequireApiKey, authorize
from dualbrain.serve.cores import CoreBudget
from dualbrain.serve.metrics import CountRequests, ServerMetrics
from dualbrain.serve.routes import knowledge_bases, openai, reports
from dualbrain.serve.services import Services
from dualbrain.serve.worker import WorkerSupervisor, start_worker_process
from dualbrain.store import Home, Quotas

# Every body but an upload's: a chat, a new knowledge base, a rollback. Checked before anything reads it; the
# upload route checks its own, larger limit once the key's scope allows the upload (knowledge_bases.py).
MAX_JSON_BYTES = 1 << 20
log = logging.getLogger(__name__)
UI_DIR = Path(__file__).parent / "ui"
HOUSEKEEPING_SECONDS = 5.0  # how soon a dead learning worker is started again, and forgotten text let go
AREAS = (openai, knowledge_bases, reports)


def create_app(home: Home, model: str | Path | None = None, auth: bool = True, worker: bool = True,
               learn_config: LearnConfig | None = None, consolidate: bool = False, engine: str = "torch",
               short_term: bool = True, quotas: Quotas | None = None) -> FastAPI:
    """The server for ``home``'s knowledge bases; ``auth=False`` (loopback only, see the CLI) opens every
    route; ``worker`` starts the learning worker process with the server (tests may run the queue
    themselves), which learns with ``learn_config`` (default: the recipe's) and, with ``consolidate``,
    consolidates what it taught when idle. ``engine`` computes the answers (torch or llama.cpp); ``short_term``
    False answers from the weights alone, never from the passages of documents not learned yet. ``quotas``: what
    each knowledge base may hold and take in (default: :class:`Quotas`' defaults)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        shutil.rmtree(home.uploads_dir, ignore_errors=True)  # what a crash left mid-upload was never added
        supervisor = WorkerSupervisor(lambda: start_worker_process(home, model, learn_config, consolidate, cores)) \
            if worker else None
        chores = asyncio.create_task(_housekeeping(supervisor, app.state.services.answerer))
        yield
        chores.cancel()
        if supervisor is not None:
            supervisor.stop()

    app = FastAPI(title="dualbrain", version="0.1", docs_url=None, redoc_url=None, lifespan=lifespan)
    library = Library(home, model)
    cores = CoreBudget.create()  # shared with the worker: answers and learning split the cores between them
    queue = home.queue()
    metrics = ServerMetrics(library, queue)
    answerer = Answerer(library, AnswerConfig(engine=engine, short_term=short_term), cores)
    app.state.services = Services(library, answerer, queue, metrics, quotas or Quotas())
    for area in AREAS:
        app.include_router(area.router)
    app.mount("/static", StaticFiles(directory=UI_DIR), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), "invalid_request_error", error.headers)

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

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuse an oversized body before anything reads it (FastAPI parses a body before the route runs)."""
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            if length is None and "chunked" in request.headers.get("transfer-encoding", ""):
                return _error(411, "send a Content-Length (chunked bodies are refused)", "invalid_request_error")
            if length is not None and not length.isdigit():
                return _error(400, "invalid Content-Length", "invalid_request_error")
            if length is not None and int(length) > MAX_JSON_BYTES and not _is_upload(request):
                return _error(413, f"request bodies are limited to {MAX_JSON_BYTES:,} bytes", "invalid_request_error")
        return await call_next(request)

    app.add_middleware(RequireApiKey, keys=home.keys() if auth else None)  # outside the body limit: keys first
    # Added last = outermost: refused requests count too. Included routers match lazily in FastAPI, so the
    # middleware is given every route itself, to name the route a request refused before routing was for.
    routes = [route for area in AREAS for route in area.router.routes] + app.router.routes
    app.add_middleware(CountRequests, metrics=metrics, routes=routes)
    return app


async def _housekeeping(supervisor: WorkerSupervisor | None, answerer: Answerer) -> None:
    """Every few seconds: start a learning worker that died again, and let go of what the server holds of
    documents no longer in force (a forget the worker finished must not wait for a question to leave memory)."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            if supervisor is not None:
                supervisor.check()
            await asyncio.to_thread(answerer.drop_stale)
        except Exception:  # a full disk, a locked database: try again at the next round
            log.exception("housekeeping failed")


def _is_upload(request: Request) -> bool:
    """Whether ``request`` is for the upload route, which reads its body itself once the key may upload."""
    return any(route.matches(request.scope)[0] == Match.FULL for route in knowledge_bases.UPLOAD_ROUTES)


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)

