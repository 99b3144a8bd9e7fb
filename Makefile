# Tale: build the book, tangle its code, run its tests.
# `make book` and `make test` are all a newcomer needs (see README.md).

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
SPHINX  := $(PY) -m sphinx -W --keep-going -n -q -c .
HTML    := _build/html
LATEX   := _build/latex
PORT    ?= 8000

.PHONY: help book tangle check-tangle html pdf serve test clean bench soak soak-programs

help:
	@echo "make book          create .venv, tangle, build the HTML book"
	@echo "make test          every check: tangle in sync, chapter examples, tests, HTML with -W"
	@echo "make tangle        write code/ from the chapters"
	@echo "make html          build the HTML book into $(HTML)"
	@echo "make pdf           build the PDF book (LaTeX, xelatex) into $(LATEX)/tale.pdf"
	@echo "make serve         serve the HTML book on http://127.0.0.1:$(PORT)/"
	@echo "make clean         remove build outputs (keeps .venv and the tangled code/)"
	@echo "make bench         install the peers, benchmark tale against them into book/results/"
	@echo "make soak          a minute of wrk and of redis-benchmark against the example servers (~3 min)"
	@echo "make soak-programs 5000 generated programs on tale, trio and asyncio; the readable kernel in full (a few minutes)"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

book: $(VENV)/.installed tangle html
	@echo "The book is at $(HTML)/index.html (make serve to read it in a browser)"

tangle: $(VENV)/.installed
	$(PY) tools/tangle.py

check-tangle: $(VENV)/.installed
	$(PY) tools/tangle.py --check

html: $(VENV)/.installed
	$(SPHINX) -b html book $(HTML)

# The PDF needs TeX; without it, say exactly what to install and fail.
TEX_PACKAGES := latexmk texlive-latex-extra texlive-fonts-recommended texlive-xetex fonts-freefont-otf xindy
pdf: $(VENV)/.installed
	@missing=""; \
	for tool in xelatex latexmk xindy; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	kpsewhich fncychap.sty >/dev/null 2>&1 || missing="$$missing fncychap.sty"; \
	fc-list 2>/dev/null | grep -q FreeSerif || missing="$$missing FreeSerif"; \
	if [ -n "$$missing" ]; then \
	  echo "make pdf: TeX is missing:$$missing"; \
	  echo "Install it (Debian/Ubuntu): apt-get install $(TEX_PACKAGES)"; \
	  exit 1; \
	fi
	$(SPHINX) -b latex book $(LATEX)
	$(MAKE) -C $(LATEX) all-pdf LATEXMKOPTS="-silent -halt-on-error" >$(LATEX)/build.log 2>&1 \
	  || { grep -A8 '^!' $(LATEX)/tale.log | head -40; tail -15 $(LATEX)/build.log; \
	       echo "make pdf: LaTeX failed, see $(LATEX)/build.log and $(LATEX)/tale.log"; exit 1; }
	@echo "The PDF book is at $(LATEX)/tale.pdf"

serve: html
	@echo "Serving $(HTML) on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(PY) -m http.server --bind 127.0.0.1 --directory $(HTML) $(PORT)

test: $(VENV)/.installed
	$(PY) tools/tangle.py --check
	$(SPHINX) -b html book $(HTML)
	$(PY) -m pytest

clean:
	rm -rf _build .pytest_cache code/build code/*.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# Benchmarks (several minutes): tale against asyncio, uvloop, trio and curio.
bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) bench/run.py
	$(PY) bench/run.py --instruments | tee book/results/instruments.txt
	$(PY) bench/run.py --thread-wait | tee book/results/thread_wait.txt
	$(PY) bench/run.py --tool streams | tee book/results/streams.txt
	@command -v wrk >/dev/null || { echo "make bench: wrk is missing (apt-get install wrk)"; exit 1; }
	$(PY) bench/run.py --tool http --json book/results/http.json | tee book/results/http.txt
	$(PY) bench/run.py --tool http-costs | tee book/results/http_costs.txt
	@command -v redis-benchmark >/dev/null || { echo "make bench: redis-benchmark is missing (apt-get install redis-tools)"; exit 1; }
	$(PY) bench/run.py --tool redis --rounds 3 --out book/results/redis_servers.txt

# The soak (about three minutes, not part of make test): wrk and redis-benchmark
# against the example servers; no error, and descriptors and memory flat after.
soak: $(VENV)/.installed
	@command -v wrk >/dev/null || { echo "make soak: wrk is missing (apt-get install wrk)"; exit 1; }
	@command -v redis-benchmark >/dev/null || { echo "make soak: redis-benchmark is missing (apt-get install redis-tools)"; exit 1; }
	$(PY) bench/run.py --tool soak --seconds 60 --out book/results/soak.txt

# More generated programs than make test runs (500 per test): each runs on
# tale, trio and asyncio, and the stories must agree (tests/test_tale_generated.py).
soak-programs: $(VENV)/.installed
	TALE_GENERATED_EXAMPLES=$${TALE_GENERATED_EXAMPLES:-5000} nice -n 10 $(PY) -m pytest tests/test_tale_generated.py -q --hypothesis-show-statistics
	TALE_READABLE_FULL=1 nice -n 10 $(PY) -m pytest tests/test_readable_kernel.py -q
