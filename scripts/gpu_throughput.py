"""Learning throughput of dualbrain's training loop on a GPU, for larger models: a short prepared check.

No model hub is reachable from a lent GPU machine, and throughput does not depend on weight values, so
the model is a randomly initialised Llama of the chosen shape (SmolLM2-135M, Llama-3.2-1B, Llama-3.1-8B),
in bf16 on the GPU, trained by ``train_knowledge`` exactly as ``dualbrain learn`` trains (LoRA rank 32 on
every projection, batch 8, rows up to 256 tokens) on the views of generated fictional documents.
Prints one JSON line per shape: real tokens per second, steps, peak GPU memory.

    python scripts/gpu_throughput.py --shapes 135m,1b,8b --organisations 8
    python scripts/gpu_throughput.py --shapes 8b --logit-chunk 1024   # logits 1,024 target positions at a time
    torchrun --nproc-per-node 8 scripts/gpu_throughput.py --shapes 8b   # DDP over 8 GPUs (rank 0 prints)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from dualbrain.bench.fictional import generate_corpus
from dualbrain.knowledge.network import LoraKnowledge
from dualbrain.knowledge.signals import build_signals
from dualbrain.knowledge.trainer import TrainSettings, processes, train_knowledge
from dualbrain.reasoning.loader import ensure_default_model

SHAPES = {  # hidden, intermediate, layers, heads, kv heads, vocabulary
    "135m": (576, 1536, 30, 9, 3, 49152),
    "1b": (2048, 8192, 16, 32, 8, 128256),
    "8b": (4096, 14336, 32, 32, 8, 128256),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="135m,1b,8b")
    parser.add_argument("--organisations", type=int, default=8, help="fictional organisations (~1.1 KB of text each)")
    parser.add_argument("--models", default="demo-home/models", help="where the default model's tokenizer is (converted once)")
    parser.add_argument("--logit-chunk", type=int, default=0, help="target positions per logits chunk (0: all at once); "
                        "with 128k-word vocabularies the logits, not the model, can fill a GPU")
    args = parser.parse_args()
    # The default model's tokenizer makes the training examples; larger vocabularies only widen the head.
    tokenizer = AutoTokenizer.from_pretrained(ensure_default_model(Path(args.models)))
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    examples = build_signals(list(generate_corpus(args.organisations).documents.items()), tokenizer, 256, 0)
    for shape in args.shapes.split(","):
        hidden, intermediate, layers, heads, kv_heads, vocabulary = SHAPES[shape]
        config = LlamaConfig(hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                             num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocabulary,
                             tie_word_embeddings=shape == "135m")
        with torch.device(processes().device):
            base = LlamaForCausalLM(config).to(torch.bfloat16).eval().requires_grad_(False)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        _, result, accelerator = train_knowledge(base, tokenizer, LoraKnowledge(), examples,
                                                 TrainSettings(epochs=1, min_steps=0, logit_chunk=args.logit_chunk))
        if accelerator.is_main_process:
            print(json.dumps({
                "shape": shape, "logit_chunk": args.logit_chunk, "parameters": sum(p.numel() for p in base.parameters()), "processes": result.processes,
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "tokens": result.tokens_trained, "steps": result.steps, "seconds": round(result.seconds, 1),
                "tokens_per_second": round(result.tokens_trained / result.seconds, 1),
                "wall_seconds": round(time.perf_counter() - started, 1),
                "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if torch.cuda.is_available() else None,
            }), flush=True)
        del base


if __name__ == "__main__":
    main()
