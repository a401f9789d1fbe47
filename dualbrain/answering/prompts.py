"""What each answer mode puts in the prompt: the question alone, or with passages, or with whole documents.

``knowledge`` and ``base`` ask the question alone (the knowledge lives in the weights); ``rag`` and the second
pass of ``knowledge+rag`` put the retrieved passages before it; ``context`` puts whole documents before it, as
many as the model's window holds. The chat framing itself is ``reasoning/prompting.py``'s, shared with training.
"""

from __future__ import annotations

from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.reasoning.prompting import grounded_question, question_prompt
from dualbrain.retrieval import Chunk
from dualbrain.retrieval.context import fit_to_budget


def chat_prompt(reasoning: ReasoningNetwork, asked: str) -> str:
    """Model input for the user turn ``asked``, ending where the answer begins."""
    return question_prompt(reasoning.tokenizer, asked)


def with_passages(question: str, passages: list[Chunk], reasoning: ReasoningNetwork, max_new_tokens: int) -> str:
    """``question`` after the retrieved ``passages``, as many as fit the model's window (all, on a real model's)."""
    return with_documents(question, [passage.text for passage in passages], reasoning, max_new_tokens)


def with_documents(question: str, texts: list[str], reasoning: ReasoningNetwork, max_new_tokens: int) -> str:
    """``question`` after the leading ``texts`` that fit the model's window beside the question and the answer."""
    tokenizer = reasoning.tokenizer

    def prompt_tokens(kept: list[str]) -> int:
        return len(tokenizer(chat_prompt(reasoning, grounded_question(question, kept)), add_special_tokens=False)["input_ids"])

    budget = reasoning.context_window - max_new_tokens
    # Each text also costs the blank line between texts (a token or two), and a text cut to fit may tokenise
    # longer in the whole prompt: fitted with room for both, then checked whole.
    kept = fit_to_budget(texts, tokenizer, budget - prompt_tokens([]) - 2 * len(texts))
    while kept and prompt_tokens(kept) > budget:
        kept.pop()
    return grounded_question(question, kept)
