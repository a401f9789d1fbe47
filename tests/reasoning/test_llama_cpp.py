"""The llama.cpp engine's bookkeeping: one instance per set of knowledge, LoRA files that never stay on
disk, streaming, and clear refusals. llama.cpp itself is replaced by a stand-in that answers with fixed
tokens; the real engine on the real model is tested in tests/knowledge/test_export_real_model.py."""

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError
from dualbrain.reasoning.llama_cpp import LlamaCpp, _hand_on


class StandIn:
    """Answers every prompt with the same tokens, then end of answer; records what it was given."""

    def __init__(self, lora: Path | None, answer: list[int], eos: int):
        self.lora_text = lora.read_text() if lora else None  # the file exists while the instance loads
        self.answer, self.eos = answer, eos
        self.prompts: list[list[int]] = []
        self.closed = False

    def generate(self, ids: list[int], **_: object):
        self.prompts.append(list(ids))
        yield from self.answer
        while True:
            yield self.eos

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def engine(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LlamaCpp:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    engine = LlamaCpp(tiny_model_dir / "model.gguf", tokenizer, context_window=256, threads=1)
    answer = tokenizer("Edda Vrankel", add_special_tokens=False)["input_ids"]
    loaded: list[StandIn] = []

    def load(lora: Path | None) -> StandIn:
        loaded.append(StandIn(lora, answer, tokenizer.eos_token_id))
        return loaded[-1]

    monkeypatch.setattr(engine, "_load", load)
    engine.loaded = loaded  # type: ignore[attr-defined]
    return engine


def test_each_set_of_knowledge_gets_its_own_instance_and_its_lora_file_is_deleted(engine: LlamaCpp, tmp_path: Path) -> None:
    written: list[Path] = []

    def write(name: str):
        def write_lora(path: Path) -> None:
            written.append(path)
            path.write_text(name)
        return write_lora

    plain = engine.continue_text("Who founded Quillfeather?", 8)
    assert plain.text == "Edda Vrankel" and plain.completion_tokens == 3 and plain.prompt_tokens > 0
    engine.continue_text("Who?", 8, knowledge=frozenset({"s1"}), write_lora=write("s1"))
    engine.continue_text("Who?", 8, knowledge=frozenset({"s1"}), write_lora=write("s1"))  # the same set: no new instance
    assert [instance.lora_text for instance in engine.loaded] == [None, "s1"]
    assert len(written) == 1 and not written[0].exists()  # loaded, then deleted with its folder
    engine.continue_text("Who?", 8, knowledge=frozenset({"s1", "s2"}), write_lora=write("s1+s2"))
    assert engine.loaded[1].closed and not engine.loaded[2].closed  # one set kept: the older one is closed
    engine.keep_only({"s1"})  # s2 was forgotten
    assert engine.loaded[2].closed and not engine.loaded[0].closed
    engine.release()
    assert engine.loaded[0].closed


def test_answers_stop_at_the_token_limit_and_stream_their_text(engine: LlamaCpp) -> None:
    pieces: list[str] = []
    generation = engine.continue_text("Who founded Quillfeather?", 2, on_text=pieces.append)
    assert generation.completion_tokens == 2
    assert "".join(pieces).strip() == generation.text and len(pieces) == 2


def test_text_waits_for_whole_characters() -> None:
    pieces: list[str] = []
    sent = _hand_on("caf\ufffd", "ca", pieces.append)  # the token ended inside a character
    assert pieces == [] and sent == "ca"
    assert _hand_on("café", sent, pieces.append) == "café" and pieces == ["fé"]


def test_prompts_that_do_not_fit_the_window_are_refused(engine: LlamaCpp) -> None:
    with pytest.raises(DualBrainError, match="window"):
        engine.continue_text("word " * 300, 8)


def test_a_model_without_a_gguf_file_cannot_use_the_llama_cpp_engine(tmp_path: Path, tiny_model_dir: Path) -> None:
    document = tmp_path / "acme.md"
    document.write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n")
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    with pytest.raises(DualBrainError, match="unknown engine"):
        brain.ask("Who founded Quillfeather?", mode="base", engine="vllm")
    with pytest.raises(DualBrainError, match="needs a GGUF file"):
        brain.ask("Who founded Quillfeather?", mode="base", engine="llama.cpp")
