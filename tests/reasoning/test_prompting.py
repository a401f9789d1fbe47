"""Questions are framed the same way for training and answering, with the question only."""

from pathlib import Path

from transformers import AutoTokenizer

from dualbrain.reasoning.prompting import question_prompt


def test_chat_prompt_holds_the_question_and_ends_at_the_answer(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = question_prompt(tokenizer, "Who runs Quillfeather?")
    assert "Who runs Quillfeather?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_models_without_chat_template_get_a_plain_frame(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    assert question_prompt(tokenizer, "Who?") == "Question: Who?\nAnswer: "
