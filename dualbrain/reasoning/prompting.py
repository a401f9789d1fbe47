"""The one place that turns questions and conversations into model input text.

Training (chat-style knowledge views) and answering must format questions identically, otherwise the
knowledge network learns a format it never sees at answer time. Chat models use their own chat template;
base models without one get plain "Question/Answer" frames.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

_PLAIN_TURN = {"user": "Question: {content}\n", "assistant": "Answer: {content}\n\n"}


def conversation_prompt(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """Model input for ``messages`` (alternating user/assistant, ending with user), up to the answer."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return "".join(_PLAIN_TURN[m["role"]].format(content=m["content"]) for m in messages) + "Answer: "


def question_prompt(tokenizer: PreTrainedTokenizerBase, question: str) -> str:
    """Model input that asks ``question`` and ends where the answer begins."""
    return conversation_prompt(tokenizer, [{"role": "user", "content": question}])


def answer_suffix(tokenizer: PreTrainedTokenizerBase) -> str:
    """What ends an answer, so a trained answer stops where the model should stop generating."""
    return tokenizer.eos_token or "\n"


def grounded_question(question: str, passages: list[str]) -> str:
    """A question preceded by reference passages: the retrieval and in-context baselines' prompt text.

    Only the `rag`, `context` and `knowledge+rag` modes use this; the `knowledge` mode never does.
    """
    sources = "\n\n".join(passages)
    return f"Use the following information to answer the question.\n\n{sources}\n\nQuestion: {question}"
