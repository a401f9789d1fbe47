"""The learning configuration: everything that, with the documents and the base model, determines a shard.

It is recorded in every shard's manifest (``shard_format.py``) and read back to rebuild the shard alike, when a
document of it is forgotten or replaced.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from typing import TypeVar

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import KNOWLEDGE_NETWORKS, LoraSettings, NetworkSettings
from dualbrain.knowledge.trainer import TrainSettings

T = TypeVar("T")


@dataclass(frozen=True)
class LearnConfig:
    """Everything that determines what a learning run produces (with the documents and base model)."""

    # The knowledge network's design and its settings (``network.py``; LoRA unless another is registered).
    network: NetworkSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    # Let the frozen model reword each fact as a question (the `question` view); costs generation time.
    self_study: bool = True
    # Share of the self-study questions also trained with retrieved passages in the prompt (the `grounded`
    # view), so the `knowledge+rag` mode answers from the knowledge instead of reciting the passages.
    grounded_share: float = 0.25
    # About this share of the self-study questions again, asked of a near-miss name or of a known thing that
    # lacks what they ask about, answered by a decline (the `abstain` view). Off: with LoRA+ it declined
    # questions about known things and cost 11 points of answerable accuracy for 2 of 12 declines (recipe.md).
    abstention_share: float = 0.0
    # Read each older document as of now: values a later document restates differently are learned with the
    # newer value (see ``updates.py``); knowledge+rag retrieves the documents so too.
    newer_facts_win: bool = True
    # Ask each relation a fact states ("the chief executive of X is Y") in one more wording people use ("who
    # runs X?", and "what does Y run?"), drawn from a relation lexicon (the `worded` view, see ``wordings.py``),
    # in place of its cloze turn. On: held-out question wordings 91 → 112 of 200 over four (corpus, seed)
    # pairs, for 3% more tokens (docs/recipe.md).
    relation_wordings: bool = True
    # Documents learned together are packed into shards of at most this many characters (a longer
    # document is a shard of its own). Adding, updating or forgetting a document retrains one shard,
    # so this bounds the cost of a change; larger shards keep more related facts together.
    shard_chars: int = 8000

    def __post_init__(self) -> None:
        if self.shard_chars < 1:
            raise ValueError(f"invalid shard size: {self.shard_chars}")
        if not 0.0 <= self.grounded_share <= 1.0:
            raise ValueError(f"invalid grounded share: {self.grounded_share}")
        if not 0.0 <= self.abstention_share <= 1.0:
            raise ValueError(f"invalid abstention share: {self.abstention_share}")

    @classmethod
    def from_dict(cls, data: dict) -> "LearnConfig":
        """The configuration :meth:`to_dict` wrote (a shard's manifest), to rebuild that shard alike. Settings a
        shard did not record are the ones it was trained without; ones this version does not know are warned
        about and left out."""
        kind = data.get("network", LoraSettings.kind)  # shards from before the registry are LoRA shards
        if kind not in KNOWLEDGE_NETWORKS:
            raise DualBrainError(f"the configuration names an unknown knowledge network '{kind}'")
        network = settings_from_dict(KNOWLEDGE_NETWORKS[kind].settings_type, data[kind], f"{kind} settings",
                                     _UNRECORDED.get(kind, {}))
        train = settings_from_dict(TrainSettings, data["train"], "training settings", _UNRECORDED["train"])
        rest = {key: value for key, value in data.items() if key not in ("network", kind, "train")}
        return settings_from_dict(cls, rest, "learning settings", _UNRECORDED["recipe"], network=network, train=train)

    def to_dict(self) -> dict:
        return {"network": self.network.kind, self.network.kind: self.network.to_dict(), "train": self.train.to_dict()} | {
            item.name: getattr(self, item.name) for item in fields(self) if item.name not in ("network", "train")
        }


# What a shard meant by a setting it did not record: it was trained before the option existed. Shards trained
# before LoRA+ gave A and B one learning rate; those before the grounded view (and the other options) were
# trained without it, and those before dropping known examples or holding back the grounded view trained every
# example in every epoch.
_UNRECORDED = {
    "lora": {"b_lr_ratio": 1.0},
    "train": {"drop_known": False, "grounded_epochs": 0},
    "recipe": {"grounded_share": 0.0, "abstention_share": 0.0, "newer_facts_win": False, "relation_wordings": False},
}


def settings_from_dict(cls: type[T], data: dict, what: str, unrecorded: dict | None = None, **given: object) -> T:
    """The settings dataclass ``cls`` from ``data`` as ``asdict`` wrote it (``given`` fields already built):
    a key it lacks takes its value from ``unrecorded``, else the field's default; a key ``cls`` does not know
    (written by a newer version) is warned about and left out."""
    names = {item.name for item in fields(cls)}
    if unknown := sorted(set(data) - names):
        warnings.warn(f"{what}: ignoring settings this version does not know: {', '.join(unknown)}", stacklevel=2)
    values = (unrecorded or {}) | {key: value for key, value in data.items() if key in names} | given
    # JSON has no tuples: a tuple field comes back as a list.
    return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})
