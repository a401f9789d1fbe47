"""Answer settings are checked once, where they are given."""

import pytest

from dualbrain.answering import AnswerConfig
from dualbrain.answering.config import MAX_ANSWER_TOKENS
from dualbrain.errors import DualBrainError


@pytest.mark.parametrize(("field", "value", "message"), [
    ("mode", "oracle", "unknown answer mode 'oracle'"),
    ("retriever", "grep", "unknown retriever 'grep'"),
    ("engine", "vllm", "unknown engine 'vllm'"),
    ("top_k", 0, "top_k must be 1 or more"),
    ("max_new_tokens", 0, "max_new_tokens must be between 1"),
    ("max_new_tokens", MAX_ANSWER_TOKENS + 1, "max_new_tokens must be between 1"),
])
def test_a_bad_setting_is_refused_with_what_is_allowed(field: str, value: object, message: str) -> None:
    with pytest.raises(DualBrainError, match=message):
        AnswerConfig(**{field: value})


def test_only_the_knowledge_modes_use_the_knowledge_network() -> None:
    assert [mode for mode in ("knowledge", "base", "rag", "context", "knowledge+rag")
            if AnswerConfig(mode=mode).uses_knowledge] == ["knowledge", "knowledge+rag"]
