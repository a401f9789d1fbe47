"""The shared engine: the plain model without shards, exactly a request's shards with them."""

from pathlib import Path

import pytest

from dualbrain.answering import NO_KNOWLEDGE, AnswerConfig, ShardSet
from dualbrain.api import DualBrain
from dualbrain.reasoning.generate import continue_text
from dualbrain.reasoning.prompting import question_prompt
from tests.settings import FAST

SETTINGS = AnswerConfig(max_new_tokens=8)


@pytest.fixture()
def learned(tmp_path: Path, tiny_model_dir: Path) -> DualBrain:
    (tmp_path / "a.md").write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n")
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    brain.learn([tmp_path / "a.md"], FAST)
    return brain


def test_without_shards_the_engine_is_the_plain_model(learned: DualBrain) -> None:
    engine = learned.engine
    prompt = question_prompt(engine.reasoning.tokenizer, "Who founded Quillfeather?")
    plain = continue_text(engine.reasoning.model, engine.reasoning.tokenizer, prompt, 8).text
    version = learned.kb.current_version()
    shards = ShardSet(tuple((shard_id, learned.kb.shard_dir(shard_id)) for shard_id in version.shard_ids))
    with_knowledge = engine.generate(prompt, shards, SETTINGS).text
    assert engine.generate(prompt, NO_KNOWLEDGE, SETTINGS).text == plain  # shards attached, switched off
    engine.release()
    assert engine.generate(prompt, NO_KNOWLEDGE, SETTINGS).text == plain
    assert engine.generate(prompt, shards, SETTINGS).text == with_knowledge  # attached again after the release


def test_knowledge_bases_sharing_an_engine_share_one_base_model(learned: DualBrain) -> None:
    other = DualBrain.open("other", home=learned.home, create=True)
    assert DualBrain(other.kb, learned.home, engine=learned.engine).reasoning is learned.reasoning
    assert other.engine is not learned.engine  # opened alone, a knowledge base has its own
