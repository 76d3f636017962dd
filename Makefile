# The README's two commands: `make run` (set up, then the main job) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Offline: read the data from ../shared/data when it is there (nothing is downloaded).
ifeq ($(MFV_DATA_DIR),)
ifneq ($(wildcard ../shared/data),)
export MFV_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: setup run figures test bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

## the main job: notebook 01 on its defaults (Lite0, the authors' bell-pepper images)
run: setup
	$(PY) -m mfv_utils.run notebooks/01_bell_pepper_tsne.py

## every committed figure folder, from full runs
figures: run
	$(PY) -m mfv_utils.run notebooks/01_bell_pepper_tsne.py -p images paper:movie_theater -p out_dir figures/01_movie_theater_tsne

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_tv.py
	$(PY) benchmarks/bench_step.py
	$(PY) benchmarks/stage_timings.py
	$(PY) benchmarks/ari_seeds.py

clean:
	rm -rf build .cache
