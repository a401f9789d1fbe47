"""OpenAI-compatible routes: the models, chat completions and legacy completions, streamed or whole.

Model ids: ``base`` is the plain reasoning network; ``dualbrain/<kb>`` answers with knowledge base ``<kb>``'s
knowledge: from the weights, with nothing retrieved in the prompt, and for documents not learned yet from their
passages (the short-term memory; a chat request's ``"short_term": false`` turns it off). Each response says which
memory answered in ``memory``.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, HTTPException, Request
from sse_starlette.sse import EventSourceResponse

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.generate import Generation
from dualbrain.serve.answering import BASE_MODEL_ID, KB_MODEL_PREFIX
from dualbrain.serve.auth import authorize
from dualbrain.serve.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    chat_chunk,
    chat_completion,
    completion_id,
    finish_reason,
    text_chunk,
    text_completion,
)
from dualbrain.serve.services import Services, ServicesParam

DEFAULT_CHAT_TOKENS = 256

router = APIRouter()


@router.get("/v1/models")
def models(request: Request, services: ServicesParam) -> dict:
    key = request.state.key
    visible = [kb for kb in services.library.names() if key.allows("read", kb)]
    ids = [BASE_MODEL_ID] + [KB_MODEL_PREFIX + kb for kb in visible]
    return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "dualbrain"} for i in ids]}


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, body: ChatCompletionRequest, services: ServicesParam):
    return await _respond(request, services, body, body.question(), chat=True)


@router.post("/v1/completions")
async def completions(request: Request, body: CompletionRequest, services: ServicesParam):
    return await _respond(request, services, body, body.prompt, chat=False)


async def _respond(request: Request, services: Services, body: ChatCompletionRequest | CompletionRequest,
                   text: str | None, chat: bool):
    kb = _knowledge_base_of(body.model)
    # The plain model holds no one's knowledge: any key that may read may use it.
    authorize(request, "read", kb if kb is not None else request.state.key.kb)
    short_term = chat and body.short_term  # raw completions continue text: no passages go before it
    if kb is not None:
        services.answerer.require_answerable(kb, short_term)  # 404 for an unknown one, first
    if text is None:
        raise HTTPException(400, "the messages hold no user question")
    max_new_tokens = body.max_tokens if not chat else (body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS)
    request_id = completion_id("chatcmpl" if chat else "cmpl")
    answerer, metrics = services.answerer, services.metrics
    if body.stream:
        # The first chunk goes out only once the answer has a slot, so a busy server still says 429.
        stream = _stream(services, kb, text, max_new_tokens, request_id, body.model, chat, short_term)
        await anext(stream)
        return EventSourceResponse(stream)
    generation = await answerer.run_async(lambda: answerer.generate(kb, text, max_new_tokens, None, chat, short_term))
    metrics.observe_answer(kb is not None, generation.total_seconds, generation.completion_tokens)
    return (chat_completion if chat else text_completion)(request_id, body.model, generation, max_new_tokens)


async def _stream(services: Services, kb: str | None, text: str, max_new_tokens: int, request_id: str, model: str,
                  chat: bool, short_term: bool):
    """OpenAI chunks as server-sent events: (for chat) the role, each piece of text as it is generated,
    the end with its finish reason and the answering version, then [DONE]."""
    chunk = chat_chunk if chat else text_chunk
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()

    def put(piece: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    def generate() -> Generation:
        try:
            return services.answerer.generate(kb, text, max_new_tokens, put, chat, short_term)
        finally:
            loop.call_soon_threadsafe(pieces.put_nowait, None)

    worker = services.answerer.run_async(generate)  # raises Busy (429) when too many answers wait
    yield None  # _respond() takes this: the slot is held, the response can start
    if chat:
        yield json.dumps(chunk(request_id, model, {"role": "assistant", "content": ""}))
    while (piece := await pieces.get()) is not None:
        yield json.dumps(chunk(request_id, model, {"content": piece}))
    try:
        generation = await worker
    except DualBrainError as error:  # the user's mistake (a question too long for the window): said in the stream
        yield json.dumps({"error": {"message": str(error), "type": "invalid_request_error"}})
        return  # without [DONE], as OpenAI ends a failed stream; anything else ends it so too, unexplained
    services.metrics.observe_answer(kb is not None, generation.total_seconds, generation.completion_tokens)
    yield json.dumps(chunk(request_id, model, {}, finish_reason(generation, max_new_tokens), generation))
    yield "[DONE]"


def _knowledge_base_of(model_id: str) -> str | None:
    if model_id == BASE_MODEL_ID:
        return None
    if model_id.startswith(KB_MODEL_PREFIX) and len(model_id) > len(KB_MODEL_PREFIX):
        return model_id[len(KB_MODEL_PREFIX):]
    raise HTTPException(404, f"unknown model '{model_id}' (use '{BASE_MODEL_ID}' or '{KB_MODEL_PREFIX}<knowledge base>'; see /v1/models)")
