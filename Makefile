# The two commands a newcomer needs (see README.md):
#   make book   build the HTML book into _build/html/
#   make test   run every test: unit tests, nbval on every notebook, the book
#               build with warnings as errors, and a headless-browser check
# Both create .venv/ with the exact versions of constraints.txt on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_DATA ?= ../shared/data
OPTIMLAB_DATA ?= $(CURDIR)/.data
export OPTIMLAB_DATA

.PHONY: book test notebooks setup-cells data browser lock clean benchmark mutation \
	experiments-mnist experiments-cifar10 experiments-cifar10-cpu experiments-smoke \
	experiments-charlm experiments-choosing-small experiments-choosing-networks \
	audit benchmark-training

# The book needs only its renderer: a light venv of its own (no torch, no optimlab).
BOOK_VENV := .venv-book
BOOK_STAMP := $(BOOK_VENV)/.installed

book: $(BOOK_STAMP)
	@$(BOOK_VENV)/bin/python tools/build_book.py

$(BOOK_STAMP): requirements-book.txt constraints.txt
	@test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	@echo "installing the book's renderer into $(BOOK_VENV)/ (first time only)"
	@$(BOOK_VENV)/bin/python -m pip install --quiet --quiet --disable-pip-version-check \
		-c constraints.txt -r requirements-book.txt
	@touch $@

test: $(STAMP) data browser
	$(BIN)/python -m pytest

# The oldest versions that pyproject.toml allows (constraints-minimum.txt), in a venv of
# their own, against the unit tests (not the notebooks, not the book): the floors are true.
MINIMUM_VENV := .venv-minimum
.PHONY: test-minimum
test-minimum: data
	test -x $(MINIMUM_VENV)/bin/python || $(PYTHON) -m venv $(MINIMUM_VENV)
	$(MINIMUM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-c constraints-minimum.txt -e ".[test]"
	$(MINIMUM_VENV)/bin/python -m pytest -o addopts="" tests \
		--ignore=tests/test_book.py --ignore=tests/test_notebooks.py \
		--ignore=tests/test_glossary.py

# Re-execute every chapter and store its outputs (what the book shows and nbval checks).
notebooks: $(STAMP) data setup-cells
	$(BIN)/python tools/notebooks.py execute

setup-cells: $(STAMP)
	$(BIN)/python tools/notebooks.py setup-cells

# The optimlab reference (book/api/), written from the package's docstrings.
.PHONY: api
api: $(STAMP)
	$(BIN)/python tools/api_reference.py

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e ".[book,test]"
	touch $@

# Offline copies of the data sets, when this checkout has them beside it (CI does).
data: $(STAMP)
	@if [ -d "$(SHARED_DATA)" ]; then \
		$(BIN)/python -m optimlab.data prepare --source "$(SHARED_DATA)"; \
	else echo "no $(SHARED_DATA): data sets will be downloaded into $(OPTIMLAB_DATA)"; fi

# Headless Chromium and its driver for the browser check (Debian packages).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# Time one optimizer step against torch's fused kernels (prints ratios).
benchmark: $(STAMP)
	$(BIN)/python tools/benchmark_optim.py

# The result cache of the Experiments part (book/results/): each command skips the runs
# already cached, so it continues where an interrupted one stopped.
experiments-mnist: $(STAMP) data
	$(BIN)/python -m optimlab.experiments run mnist --threads 1

experiments-cifar10: $(STAMP) data
	$(BIN)/python -m optimlab.experiments run cifar10 --checkpoint-dir .checkpoints --resume

# The CIFAR-10 CPU tier: the α search, then each optimizer at its chosen α with three
# seeds; two one-thread shards each, checkpointed every epoch, resumable.
experiments-cifar10-cpu: $(STAMP) data
	for grid in cifar10-cpu-search cifar10-cpu; do pids=""; \
		for i in 0 1; do $(BIN)/python -m optimlab.experiments run $$grid --threads 1 \
			--shard $$i/2 --checkpoint-dir .checkpoints --resume & pids="$$pids $$!"; done; \
		for pid in $$pids; do wait $$pid || exit 1; done; \
	done

# The language-model race of Part IV (6 optimizers on the char-level GPT): the rate
# search, then each optimizer at its chosen rate with three seeds; two one-thread
# shards each, checkpointed, resumable (about 1 h of wall time on 2 idle cores).
experiments-charlm: $(STAMP) data
	for grid in charlm-search charlm; do pids=""; \
		for i in 0 1; do $(BIN)/python -m optimlab.experiments run $$grid --threads 1 \
			--shard $$i/2 --checkpoint-dir .checkpoints --resume & pids="$$pids $$!"; done; \
		for pid in $$pids; do wait $$pid || exit 1; done; \
	done

# The five small tasks of the optimizer benchmark (every optimizer of optimlab.optim,
# its rate searched, five seeds): one sealed record per task in
# book/results/choosing-small/; a finished task is kept. One thread, ~10 min.
experiments-choosing-small: $(STAMP)
	$(BIN)/python -m optimlab.experiments small-tasks run --threads 1

# The four networks of the optimizer benchmark (every optimizer, its rate searched on
# validation data, three seeds; book/results/choosing-networks/), two one-thread
# shards, resumable (about 1 h of wall time on 2 idle cores); then the costs of each
# optimizer on each network (state bytes, time per update; ~10 min on an idle core).
experiments-choosing-networks: $(STAMP) data
	pids=""; for i in 0 1; do $(BIN)/python -m optimlab.experiments networks run \
		--threads 1 --shard $$i/2 & pids="$$pids $$!"; done; \
		for pid in $$pids; do wait $$pid || exit 1; done
	$(BIN)/python -m optimlab.experiments networks costs --threads 1

experiments-smoke: $(STAMP) data
	$(BIN)/python -m optimlab.experiments run cifar10-smoke

# Recompute every cached run's fingerprint on the CPU (`make test` does it for a
# sample of the benchmark's network runs), and five runs of each small task.
audit: $(STAMP) data
	$(BIN)/python -m optimlab.experiments audit
	$(BIN)/python -m optimlab.experiments small-tasks audit --sample 5

# ResNet-18 training throughput and the optimizer step's share, on the device found.
benchmark-training: $(STAMP)
	$(BIN)/python tools/benchmark_training.py

# Mutation check of optimlab.optim: every broken copy must fail a test.
mutation: $(STAMP)
	$(BIN)/python tools/mutate_optim.py

# Re-resolve the newest versions that pyproject.toml allows and pin them.
lock:
	rm -rf /tmp/optimlab-lock && $(PYTHON) -m venv /tmp/optimlab-lock
	/tmp/optimlab-lock/bin/python -m pip install --quiet -e ".[book,test]"
	{ sed -n '/^#/p' constraints.txt; /tmp/optimlab-lock/bin/python -m pip freeze \
		--exclude-editable; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf _build .pytest_cache
