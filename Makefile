# AAE Book: `make book` builds the book, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: install data chromium malloc book test unit fuzz bench bench-stacked bench-repeats clean

install: $(STAMP)

# pip says only what goes wrong (-qq); the editable install's advice about same-named folders is not for readers.
$(STAMP): requirements.txt pyproject.toml
	@echo "install: the pinned packages of requirements.txt into $(VENV) (a few minutes the first time)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --upgrade pip
	@$(BIN)/python -m pip install -qq -r requirements.txt
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -qq --no-deps --no-build-isolation -e .
	@touch $@

# MNIST where the package looks for it (aae_core.data.data_dir: $$AAE_DATA_DIR, else ../shared/data, else ./data),
# fetched once and md5-checked where it is missing; one line and a non-zero exit when it cannot be had.
data: install
	@$(BIN)/python tools/fetch_mnist.py

# The browser tests' Chromium: $CHROMIUM, else playwright's own, else Debian's `chromium` (installed with
# apt-get when missing, only as root); tools/find_chromium.py prints the one it finds or says how to get one.
chromium: install
	@$(BIN)/python tools/find_chromium.py --install

# Execute every chapter with papermill, then render the executed copies into _build/html.
book: install data
	@$(BIN)/python tools/build_book.py

# Everything: unit, CLI and notebook tests, the executed chapters under nbval, the HTML in Chromium.
# TEST_WORKERS processes share the tests a file at a time (pytest-xdist), each computing with one thread, so
# that they never wait on each other's threads: much of a test's time is a subprocess starting, a browser or a
# file, and the other process computes meanwhile. Two suit 2 cores; TEST_WORKERS=0 is one process, torch's threads.
TEST_WORKERS ?= 2
PYTEST = $(if $(filter 0,$(TEST_WORKERS)),$(BIN)/python -m pytest,\
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile)
test: install data chromium malloc book
	$(PYTEST) tests _build/executed/book $(NBVAL)

# Only the Python tests (no book build, no browser).
unit: install
	$(PYTEST) tests --ignore=tests/test_book_html.py --ignore=tests/test_book_buttons.py

# `train` under a few hundred random combinations of options, valid and invalid (tests/test_fuzz.py runs a few
# dozen with the unit tests): each must end in a run, one line on stderr, or a diverged run. Run it before
# resolving a change to the command line or the run folder; it prints the count of each outcome.
FUZZ_CASES ?= 300
fuzz: install
	AAE_FUZZ_CASES=$(FUZZ_CASES) $(BIN)/python -m pytest tests/test_fuzz.py -q -s

# The bench results appendix C (engineering notes) reads (DEVICE=cuda on a GPU machine); replaces $(BENCH_DIR)/$(DEVICE)-*.json.
# bf16 computes with weight copies; one more bench at batch 100 times bf16 under autocast, for comparison.
# results/bench holds the machine the speed targets were set on; another machine goes in a folder of its own
# (make bench BENCH_DIR=results/bench/NAME). The profiled breakdown is CPU only.
DEVICE ?= cpu
BENCH_DIR ?= results/bench
# The benches run with a faster malloc than glibc's where one is installed (`make malloc` installs tcmalloc
# on Debian; aae_core/provenance.py says why); MALLOC_LIB= runs them with the C library's own. Each file records which.
MALLOC_LIB ?= $(firstword $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4 /usr/lib/*/libjemalloc.so.2))
BENCH_CMD = $(BIN)/python -m aae_core bench --device $(DEVICE) --json --force
BENCH_PLAIN = LD_PRELOAD=$(MALLOC_LIB) $(BENCH_CMD)
BENCH = $(BENCH_PLAIN) $(if $(filter cpu,$(DEVICE)),--breakdown)
bench: install
	for p in fp32 bf16; do \
	  for b in 50 100 200 400; do \
	    $(BENCH) --precision $$p --batch-size $$b --compare-kernels --out $(BENCH_DIR)/$(DEVICE)-$$p-batch$$b.json || exit 1; \
	  done; \
	done
	$(BENCH) --precision bf16 --bf16-weights autocast --out $(BENCH_DIR)/$(DEVICE)-bf16-autocast-batch100.json

# R runs stacked in one process against the same runs one at a time and (CPU) side by side, for R = 1, 3, 9
# (appendix C); replaces results/bench-stacked/$(DEVICE)-runs-R.json.
bench-stacked: install
	for r in 1 3 9; do \
	  $(BENCH_PLAIN) --stack $$r --out results/bench-stacked/$(DEVICE)-runs-$$r.json || exit 1; \
	done

# The batch-100 bench again and again, fp32 and bf16 in turn, each with the default malloc and with
# MALLOC_LIB (where there is one), each run a fresh process: how far one run's number moves on this machine,
# and what the allocator changes (appendix C). Replaces $(BENCH_DIR)/repeats/$(DEVICE)-*.json.
REPEATS ?= 7
bench-repeats: install
	for i in $$(seq $(REPEATS)); do \
	  for p in fp32 bf16; do \
	    for lib in default $(MALLOC_LIB); do \
	      name=$$(basename $$lib | sed 's/^lib//; s/[._].*//'); \
	      LD_PRELOAD=$$(test $$lib = default || echo $$lib) $(BENCH_CMD) --precision $$p \
	        --out $(BENCH_DIR)/repeats/$(DEVICE)-$$p-batch100-$$name-run$$i.json || exit 1; \
	    done; \
	  done; \
	done

# tcmalloc from Debian's packages, for the benches and the test that checks it changes no result; where it
# cannot be installed the benches run with the C library's malloc and that test is skipped.
malloc:
	@test -n "$(MALLOC_LIB)" || (test "$$(id -u)" = 0 && command -v apt-get >/dev/null \
	  && echo "malloc: installing Debian's tcmalloc with apt-get (running as root)" \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcmalloc-minimal4 >/dev/null) \
	  || echo "note: tcmalloc is not installed (make malloc installs it as root on Debian); the benches use the C library's malloc"

clean:
	rm -rf _build
