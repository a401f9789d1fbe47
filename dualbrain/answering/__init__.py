"""Answering: from a question to an answer, with or without the knowledge network, in every mode.

``config`` says how to answer, ``engine`` computes answers on the shared frozen model with a request's shards,
``routing`` picks the shards a question is about, ``passages`` indexes the documents for the modes that read
them and for the support check, ``prompts`` builds each mode's prompt, and ``modes`` puts these together.
"""

from dualbrain.answering.config import ANSWER_MODES, ENGINES, RETRIEVERS, AnswerConfig
from dualbrain.answering.engine import NO_KNOWLEDGE, Engine, ShardSet
from dualbrain.answering.modes import Answers

__all__ = ["ANSWER_MODES", "ENGINES", "NO_KNOWLEDGE", "RETRIEVERS", "AnswerConfig", "Answers", "Engine", "ShardSet"]
