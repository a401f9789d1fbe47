"""The FastAPI application: OpenAI-compatible chat and models, knowledge-base routes, health.

Model ids: ``base`` is the plain reasoning network; ``dualbrain/<kb>`` answers with knowledge base
``<kb>``'s knowledge (nothing retrieved goes into the prompt). Errors come back in OpenAI's shape
(``{"error": {"message", "type"}}``) with a 4xx status; a user's mistake is never a 500.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from dualbrain.errors import DualBrainError, KnowledgeBaseExists, UnknownKnowledgeBase
from dualbrain.serve.answering import BASE_MODEL_ID, KB_MODEL_PREFIX, Answerer
from dualbrain.serve.auth import RequireApiKey, authorize
from dualbrain.serve.schemas import (
    ChatCompletionRequest,
    CreateKnowledgeBase,
    chat_chunk,
    chat_completion,
    completion_id,
)
from dualbrain.store import Home

DEFAULT_CHAT_TOKENS = 256


def create_app(home: Home, model: str | Path | None = None, auth: bool = True) -> FastAPI:
    """The server for ``home``'s knowledge bases; ``auth=False`` (loopback only, see the CLI) opens every route."""
    app = FastAPI(title="dualbrain", version="0.1", docs_url=None, redoc_url=None)
    app.add_middleware(RequireApiKey, keys=home.keys() if auth else None)
    answerer = Answerer(home, model)
    app.state.answerer = answerer

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

    @app.exception_handler(DualBrainError)
    async def user_error(request: Request, error: DualBrainError) -> JSONResponse:
        return _error(400, str(error), "invalid_request_error")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models(request: Request) -> dict:
        key = request.state.key
        visible = [kb for kb in home.list_kbs() if key.allows("read", kb)]
        ids = [BASE_MODEL_ID] + [KB_MODEL_PREFIX + kb for kb in visible]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "dualbrain"} for i in ids]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, body: ChatCompletionRequest):
        kb = _knowledge_base_of(body.model)
        authorize(request, "read", kb)
        if kb is not None:
            home.open_kb(kb)  # 404 for an unknown knowledge base before any work
        question = body.question()
        if question is None:
            raise HTTPException(400, "the messages hold no user question")
        max_new_tokens = body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS
        request_id = completion_id()
        if body.stream:
            return EventSourceResponse(_stream(answerer, kb, question, max_new_tokens, request_id, body.model))
        generation = await run_in_threadpool(answerer.answer, kb, question, max_new_tokens)
        completion_tokens = len(answerer.reasoning.tokenizer(generation.text, add_special_tokens=False)["input_ids"])
        return chat_completion(request_id, body.model, generation.text, generation.prompt_tokens, completion_tokens)

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


async def _stream(answerer: Answerer, kb: str | None, question: str, max_new_tokens: int, request_id: str, model: str):
    """OpenAI chat chunks as server-sent events: the role, each piece of text as it is generated, the end, [DONE]."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()

    def put(text: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, text)

    def generate() -> None:
        try:
            answerer.answer(kb, question, max_new_tokens, on_text=put)
        finally:
            loop.call_soon_threadsafe(pieces.put_nowait, None)

    worker = loop.run_in_executor(None, generate)
    yield json.dumps(chat_chunk(request_id, model, {"role": "assistant", "content": ""}))
    while (piece := await pieces.get()) is not None:
        yield json.dumps(chat_chunk(request_id, model, {"content": piece}))
    await worker  # re-raises a generation error, which ends the stream without [DONE]
    yield json.dumps(chat_chunk(request_id, model, {}, "stop"))
    yield "[DONE]"


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)

