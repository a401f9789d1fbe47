"""Learning settings shared by tests on the tiny model (its answers mean nothing; these keep tests fast)."""

from dataclasses import replace

from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings

# One quick epoch, no self-study questions: for tests of what happens around learning.
FAST = LearnConfig(train=TrainSettings(epochs=1, min_steps=0, batch_size=8, bf16=False), self_study=False)
# The same with the self-study questions drafted and trained: the whole recipe's path.
FAST_SELF_STUDY = replace(FAST, self_study=True)
# Two epochs of small batches: for tests that compare what training wrote (weights, shards, their mixing).
TWO_EPOCHS = LearnConfig(train=TrainSettings(epochs=2, min_steps=0, batch_size=4, bf16=False))
