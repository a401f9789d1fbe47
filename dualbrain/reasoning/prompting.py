"""The one place that turns a user question into model input text.

Training (chat-style knowledge views) and answering must format questions identically, otherwise the
knowledge network learns a format it never sees at answer time. Chat models use their own chat template;
base models without one get a plain "Question/Answer" frame.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

_PLAIN_FRAME = "Question: {question}\nAnswer: "


def question_prompt(tokenizer: PreTrainedTokenizerBase, question: str) -> str:
    """Model input that asks ``question`` and ends where the answer begins."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
    return _PLAIN_FRAME.format(question=question)


def answer_suffix(tokenizer: PreTrainedTokenizerBase) -> str:
    """What ends an answer, so a trained answer stops where the model should stop generating."""
    return tokenizer.eos_token or "\n"
