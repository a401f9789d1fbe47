"""OpenAI request and response shapes (the subset dualbrain serves), validated by pydantic.

Unknown request fields are ignored, as OpenAI clients send many (temperature, top_p …): answers are
greedy, so sampling settings do not apply. Bounds keep one request from tying up the model.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from dualbrain.answering.config import MAX_ANSWER_TOKENS
from dualbrain.reasoning.generate import Generation

MAX_MESSAGE_CHARS = 8000


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatCompletionRequest(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=64)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_ANSWER_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_ANSWER_TOKENS)
    stream: bool = False
    # dualbrain's own (OpenAI clients do not send it): false answers from the weights alone, never from the passages
    # of documents not learned yet.
    short_term: bool = True

    def question(self) -> str | None:
        """The last user turn: the knowledge network was trained on single questions, so that is what it answers."""
        return next((m.content for m in reversed(self.messages) if m.role == "user" and m.content.strip()), None)


class CompletionRequest(BaseModel):
    """OpenAI's legacy text completion: the prompt is continued as raw text (no chat template)."""

    model: str = Field(min_length=1, max_length=200)
    prompt: str | list[str]
    max_tokens: int = Field(default=16, ge=1, le=MAX_ANSWER_TOKENS)  # OpenAI's default
    stream: bool = False

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, prompt: str | list[str]) -> str:
        if isinstance(prompt, list) and len(prompt) != 1:
            raise ValueError("give one prompt per request")
        text = prompt if isinstance(prompt, str) else prompt[0]
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"at most {MAX_MESSAGE_CHARS} characters")
        if not text.strip():
            raise ValueError("the prompt is empty")
        return text


def completion_id(kind: str = "chatcmpl") -> str:
    return f"{kind}-{uuid.uuid4().hex[:24]}"


def finish_reason(generation: Generation, max_new_tokens: int) -> str:
    return "length" if generation.completion_tokens >= max_new_tokens else "stop"


def _envelope(request_id: str, kind: str, model: str, generation: Generation | None) -> dict:
    """The fields every response and chunk shares; ``system_fingerprint`` names the knowledge version
    that answered (clients can see when a newly learned version starts answering), and ``memory`` (dualbrain's
    own; OpenAI clients ignore it) which memory the answer came from: knowledge, short-term, both, or null."""
    head = {"id": request_id, "object": kind, "created": int(time.time()), "model": model}
    if generation is not None:
        head["system_fingerprint"] = generation.knowledge_version
        head["memory"] = generation.memory
    return head


def _usage(generation: Generation) -> dict:
    return {"prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens}


def chat_completion(request_id: str, model: str, generation: Generation, max_new_tokens: int) -> dict:
    message = {"role": "assistant", "content": generation.text}
    return _envelope(request_id, "chat.completion", model, generation) | {
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(generation, max_new_tokens)}],
        "usage": _usage(generation),
    }


def text_completion(request_id: str, model: str, generation: Generation, max_new_tokens: int) -> dict:
    return _envelope(request_id, "text_completion", model, generation) | {
        "choices": [{"index": 0, "text": generation.text, "logprobs": None, "finish_reason": finish_reason(generation, max_new_tokens)}],
        "usage": _usage(generation),
    }


def chat_chunk(request_id: str, model: str, piece: dict, finish: str | None = None, generation: Generation | None = None) -> dict:
    """``piece`` is the delta: the role first, then content."""
    return _envelope(request_id, "chat.completion.chunk", model, generation) | {
        "choices": [{"index": 0, "delta": piece, "finish_reason": finish}],
    }


def text_chunk(request_id: str, model: str, piece: dict, finish: str | None = None, generation: Generation | None = None) -> dict:
    """``piece`` is ``{"content": text}`` or empty (the role chunk of chat has no counterpart here)."""
    return _envelope(request_id, "text_completion", model, generation) | {
        "choices": [{"index": 0, "text": piece.get("content", ""), "logprobs": None, "finish_reason": finish}],
    }


class CreateKnowledgeBase(BaseModel):
    name: str = Field(min_length=1, max_length=63)


class Rollback(BaseModel):
    version: str = Field(min_length=1, max_length=32)
