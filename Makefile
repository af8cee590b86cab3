# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv with Python 3.10 when missing (lava-nc needs 3.10), install
# the pinned set from constraints.txt, and are quick when already set up.

PYTHON ?= python3.10
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test setup lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10 (lava-nc needs it), e.g. 'pyenv install 3.10'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/connttra-neuro demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check connttra_neuro hardware_targets tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/tune.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/deploy_loihi2.py
	$(BIN)/python bench/deploy_brian2.py

clean:
	rm -rf $(VENV) .cache build *.egg-info
