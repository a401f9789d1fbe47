"""OpenAI request and response shapes (the subset dualbrain serves), validated by pydantic.

Unknown request fields are ignored, as OpenAI clients send many (temperature, top_p …): answers are
greedy, so sampling settings do not apply. Bounds keep one request from tying up the model.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, Field

MAX_NEW_TOKENS = 512
MAX_MESSAGE_CHARS = 8000


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatCompletionRequest(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=64)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_NEW_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_NEW_TOKENS)
    stream: bool = False

    def question(self) -> str | None:
        """The last user turn: the knowledge network was trained on single questions, so that is what it answers."""
        return next((m.content for m in reversed(self.messages) if m.role == "user" and m.content.strip()), None)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def chat_completion(request_id: str, model: str, text: str, prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "id": request_id, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def chat_chunk(request_id: str, model: str, delta: dict, finish_reason: str | None = None) -> dict:
    return {
        "id": request_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


class CreateKnowledgeBase(BaseModel):
    name: str = Field(min_length=1, max_length=63)


class Rollback(BaseModel):
    version: str = Field(min_length=1, max_length=32)
