"""The prompts of the modes that read text: passages and documents fit the model's window beside the answer."""

from pathlib import Path

from dualbrain.answering.prompts import chat_prompt, with_documents, with_passages
from dualbrain.reasoning.loader import load_reasoning_network
from dualbrain.retrieval import Chunk


def test_passages_and_documents_are_cut_to_fit_the_window_with_the_answer(tiny_model_dir: Path, tmp_path: Path) -> None:
    reasoning = load_reasoning_network(tiny_model_dir, tmp_path)
    window, question = reasoning.context_window, "Who founded Quillfeather Aeronautics?"
    texts = [f"Passage {i}: " + "Quillfeather Aeronautics builds gliders in Marrowgate. " * 40 for i in range(3)]
    for max_new_tokens in (8, 48):
        for asked in (with_documents(question, texts, reasoning, max_new_tokens),
                      with_passages(question, [Chunk("d1", text) for text in texts], reasoning, max_new_tokens)):
            tokens = len(reasoning.tokenizer(chat_prompt(reasoning, asked), add_special_tokens=False)["input_ids"])
            assert window - max_new_tokens - 16 <= tokens <= window - max_new_tokens  # filled, never past it
            assert asked.endswith(f"Question: {question}") and "Passage 0:" in asked
    short = ["Edda Vrankel founded it in 1987.", "It builds gliders."]
    assert with_documents(question, short, reasoning, 48).count("\n\n") == 3  # what fits is kept whole
