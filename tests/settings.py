"""Learning settings shared by tests on the tiny model: one quick epoch, no self-study questions."""

from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings

FAST = LearnConfig(train=TrainSettings(epochs=1, min_steps=0, batch_size=8, bf16=False), self_study=False)
