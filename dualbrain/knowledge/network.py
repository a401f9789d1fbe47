"""The boundary between the frozen reasoning network and the trainable knowledge network.

Everything outside this module talks to :class:`KnowledgeNetwork` only: "give me a trainable model",
"save what was learned", "attach saved knowledge", "take it off again". The first implementation,
:class:`LoraKnowledge`, stores knowledge as a standard PEFT LoRA adapter directory
(``adapter_config.json`` + ``adapter_model.safetensors``) so vLLM, llama.cpp and plain PEFT can load it;
a later design (prefix/KV cartridges, memory layers) is one more class: a :class:`KnowledgeNetwork` with its
own :class:`NetworkSettings`, made known by :func:`register_network` (as PEFT's ``register_peft_method``), which
training builds from the recipe's settings and attaching finds by the ``kind`` a shard's manifest records.
Exporting for other engines (``export.py``) and the llama.cpp engine read LoRA adapters only.

Attaching injects adapter modules next to the frozen base layers; the base weights themselves are never
written, and :meth:`KnowledgeNetwork.detach` restores the exact original module tree.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.optimizers import create_loraplus_optimizer
from torch import nn
from transformers import PreTrainedModel

ADAPTER_SUBDIR = "adapter"


@dataclass(frozen=True)
class NetworkSettings:
    """The settings of one knowledge-network design (its shape and how it learns); ``kind`` names the design."""

    kind: ClassVar[str]

    def to_dict(self) -> dict:
        return asdict(self)


class KnowledgeNetwork(ABC):
    """Trainable weights that hold a knowledge base, attachable to a frozen base model."""

    kind: ClassVar[str]  # recorded in every shard's manifest, to find the design that re-attaches it
    settings_type: ClassVar[type[NetworkSettings]]

    def __init__(self, settings: NetworkSettings | None = None):
        self.settings = settings or self.settings_type()

    @abstractmethod
    def trainable(self, base: PreTrainedModel) -> nn.Module:
        """Attach fresh, trainable knowledge weights to ``base`` (whose own weights stay frozen)."""

    @abstractmethod
    def optimizer(self, model: nn.Module, learning_rate: float) -> torch.optim.Optimizer:
        """The optimiser for the knowledge weights of ``model`` (as :meth:`trainable` made it)."""

    @abstractmethod
    def save(self, model: nn.Module, directory: Path, base_name: str) -> None:
        """Write the knowledge weights of ``model`` into ``directory`` (safetensors, no absolute paths)."""

    @abstractmethod
    def attach(self, model: nn.Module, directory: Path, name: str) -> nn.Module:
        """Load saved knowledge from ``directory`` onto ``model`` (the base, or the base with other
        knowledge attached) under ``name``, for inference; returns the model to answer with."""

    @abstractmethod
    def activate(self, model: nn.Module, names: list[str]) -> None:
        """Make the attached knowledge ``names`` (at least one) the knowledge that answers, summed."""

    @abstractmethod
    def remove(self, model: nn.Module, name: str) -> None:
        """Take the attached knowledge ``name`` off ``model`` (not the last one: :meth:`detach` does that)."""

    @abstractmethod
    def detach(self, model: nn.Module) -> PreTrainedModel:
        """Remove the knowledge weights and return the untouched base model."""

    @abstractmethod
    def switched_off(self, model: nn.Module) -> AbstractContextManager[nn.Module]:
        """While inside, ``model`` computes exactly what the plain base model computes (no reloading)."""

    @abstractmethod
    def merged_copy(self, model: nn.Module, names: list[str]) -> PreTrainedModel:
        """A separate plain model whose weights hold the base plus the attached knowledge ``names``
        (summed): it answers as ``model`` with ``names`` active, at the plain model's speed."""


@dataclass(frozen=True)
class LoraSettings(NetworkSettings):
    """Where and how big the LoRA knowledge network is."""

    kind: ClassVar[str] = "lora"
    rank: int = 32
    alpha: int = 32
    dropout: float = 0.0
    # LoRA+ (arXiv 2402.12354): the B matrices learn this many times faster than the A matrices. With one
    # learning rate for both, B (which starts at zero) learns too slowly for the adapter to pick up new
    # features in a short schedule: the values of facts stayed unlearned while their templates were learned.
    # 1 is plain LoRA; 16 diverged at the recipe's learning rate (docs/recipe.md, "LoRA+").
    b_lr_ratio: float = 4.0
    # Attention and MLP projections both: facts live mostly in the MLPs, attention routes to them.
    target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    )

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or not 0.0 <= self.dropout < 1.0 or not self.target_modules or self.b_lr_ratio < 1:
            raise ValueError(f"invalid LoRA settings: {self}")


# Design kind → implementation: what trains a shard of that kind and re-attaches it.
KNOWLEDGE_NETWORKS: dict[str, type[KnowledgeNetwork]] = {}


def register_network(network: type[KnowledgeNetwork]) -> type[KnowledgeNetwork]:
    """Make ``network`` a design shards can be trained with (its settings in the recipe) and attached by."""
    if network.settings_type.kind != network.kind:
        raise ValueError(f"{network.__name__} is '{network.kind}', its settings '{network.settings_type.kind}'")
    KNOWLEDGE_NETWORKS[network.kind] = network
    return network


def network_for(settings: NetworkSettings) -> KnowledgeNetwork:
    """The knowledge network that ``settings`` describe."""
    return KNOWLEDGE_NETWORKS[settings.kind](settings)


@register_network
class LoraKnowledge(KnowledgeNetwork):
    """Knowledge as one PEFT LoRA adapter."""

    kind = "lora"
    settings_type = LoraSettings
    settings: LoraSettings

    def trainable(self, base: PreTrainedModel) -> nn.Module:
        config = LoraConfig(
            r=self.settings.rank,
            lora_alpha=self.settings.alpha,
            lora_dropout=self.settings.dropout,
            target_modules=list(self.settings.target_modules),
            task_type="CAUSAL_LM",
        )
        return get_peft_model(base, config)

    def optimizer(self, model: nn.Module, learning_rate: float) -> torch.optim.Optimizer:
        return create_loraplus_optimizer(model, torch.optim.AdamW, lr=learning_rate,
                                         loraplus_lr_ratio=self.settings.b_lr_ratio, weight_decay=0.0)

    def save(self, model: nn.Module, directory: Path, base_name: str) -> None:
        # PEFT records the base model as given, which would leak a local absolute path into the file.
        for config in model.peft_config.values():
            config.base_model_name_or_path = base_name
        # The embeddings are frozen, so PEFT need not look up the base model to decide whether to save them.
        model.save_pretrained(directory / ADAPTER_SUBDIR, safe_serialization=True, save_embedding_layers=False)

    def attach(self, model: nn.Module, directory: Path, name: str) -> nn.Module:
        if isinstance(model, PeftModel):
            model.load_adapter(directory / ADAPTER_SUBDIR, adapter_name=name, is_trainable=False)
        else:
            model = PeftModel.from_pretrained(model, directory / ADAPTER_SUBDIR, adapter_name=name, is_trainable=False)
        model.eval()
        return model

    def activate(self, model: nn.Module, names: list[str]) -> None:
        # The LoRA layers add the outputs of every active adapter; PeftModel.set_adapter takes only one,
        # so the layers are set through the tuner, and the wrapper's own record is kept pointing at a
        # loaded adapter of the set (it reads that adapter's config on every forward).
        model.base_model.set_adapter(names if len(names) > 1 else names[0], inference_mode=True)
        model.active_adapter = names[0]

    def remove(self, model: nn.Module, name: str) -> None:
        # Move the active record off the adapter first: PEFT repairs it only when one adapter stays active.
        model.set_adapter(next(other for other in model.peft_config if other != name), inference_mode=True)
        model.delete_adapter(name)

    def detach(self, model: nn.Module) -> PreTrainedModel:
        return model.unload() if isinstance(model, PeftModel) else model

    def switched_off(self, model: nn.Module) -> AbstractContextManager[nn.Module]:
        return model.disable_adapter()

    def merged_copy(self, model: nn.Module, names: list[str]) -> PreTrainedModel:
        # Merging works on a copy: merging into the shared base and unmerging later would not give its
        # weights back bit for bit. The copy holds every attached adapter until it is unloaded (small).
        merged = copy.deepcopy(model).merge_and_unload(adapter_names=names)
        return merged.eval()
