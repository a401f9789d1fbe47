"""The learning configuration round-trips through a shard's manifest, whatever network design it names."""

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.network import KNOWLEDGE_NETWORKS, LoraKnowledge, NetworkSettings, network_for, register_network
from dualbrain.knowledge.trainer import TrainSettings

TWO_EPOCHS = LearnConfig(train=TrainSettings(epochs=2, bf16=False))


def _through_json(config: LearnConfig) -> dict:
    return json.loads(json.dumps(config.to_dict()))


def test_a_setting_this_version_does_not_know_is_warned_about_and_left_out() -> None:
    recorded = _through_json(TWO_EPOCHS)
    recorded["future_option"] = 1
    recorded["lora"]["future_rank_rule"] = "x"
    with pytest.warns(UserWarning) as warned:
        assert LearnConfig.from_dict(recorded) == TWO_EPOCHS
    messages = " ".join(str(warning.message) for warning in warned)
    assert "future_option" in messages and "future_rank_rule" in messages
    with pytest.raises(DualBrainError, match="unknown knowledge network 'cartridge'"):
        LearnConfig.from_dict(recorded | {"network": "cartridge"})


@dataclass(frozen=True)
class _CartridgeSettings(NetworkSettings):
    kind: ClassVar[str] = "cartridge"
    tokens: int = 64


class _Cartridge(LoraKnowledge):  # a second design; how it trains does not matter to the registry
    kind = "cartridge"
    settings_type = _CartridgeSettings


def test_a_second_network_design_is_one_registered_class() -> None:
    register_network(_Cartridge)
    try:
        config = LearnConfig(_CartridgeSettings(tokens=16), TrainSettings(bf16=False))
        assert LearnConfig.from_dict(_through_json(config)) == config  # the manifest names its design
        assert isinstance(network_for(config.network), _Cartridge) and network_for(config.network).settings.tokens == 16
    finally:
        del KNOWLEDGE_NETWORKS["cartridge"]
    with pytest.raises(ValueError, match="its settings"):
        register_network(type("Mislabelled", (LoraKnowledge,), {"kind": "other"}))
