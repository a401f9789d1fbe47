"""What `dualbrain bench quality` can compare and on what: the answer systems and the datasets, by name.

Kept apart from the benchmark's code so that the command line offers the choices without importing it.
"""

# Benchmark system → (answer mode, retriever, whether the oracle documents go in the prompt, engine).
SYSTEMS: dict[str, tuple[str, str, bool, str]] = {
    "base": ("base", "bm25", False, "torch"),
    "rag-bm25": ("rag", "bm25", False, "torch"),
    "rag-embed": ("rag", "embed", False, "torch"),
    "context": ("context", "bm25", True, "torch"),
    "knowledge": ("knowledge", "bm25", False, "torch"),
    "knowledge+rag": ("knowledge+rag", "bm25", False, "torch"),
    # The same knowledge answered by llama.cpp (a GGUF of the base model and the shards as a GGUF LoRA).
    "knowledge@llama.cpp": ("knowledge", "bm25", False, "llama.cpp"),
}
# Run unless systems are chosen: the engine comparison needs a GGUF of the base model, so it is asked for.
DEFAULT_SYSTEMS = tuple(system for system, (*_, engine) in SYSTEMS.items() if engine == "torch")
# Generated corpora, then the real-text ones (bench/realtext.py).
DATASETS = ("fictional", "varied", "boolq", "quac", "narrativeqa")
