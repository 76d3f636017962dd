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

.PHONY: setup lock run figures claims test bench teach lab atlas clean
setup: $(VENV)/.installed

# Every install goes through the lock file (pins torch/torchvision too); the package itself
# is installed without resolving anything further.
$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

## regenerate requirements/lock.txt from pyproject.toml (+ requirements/constraints.in)
lock: setup
	rm -f requirements/lock.txt
	$(VENV)/bin/pip-compile -q --extra test --extra lock --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -c requirements/constraints.in -o requirements/lock.txt pyproject.toml

## the main job: notebook 01 on its defaults (Lite0, the authors' bell-pepper images), written
## under build/ (the committed figures/ stay as they are), then its numbers beside the committed run's
RUN_OUT ?= build/01_bell_pepper_tsne
RUN_ARGS ?=
run: setup
	$(PY) -m mfv_utils.run notebooks/01_bell_pepper_tsne.py -p out_dir $(RUN_OUT) $(RUN_ARGS)
	@$(PY) -m mfv_utils.reproduce $(RUN_OUT) figures/01_bell_pepper_tsne

## every committed figure folder, from full runs
figures: setup
	$(PY) -m mfv_utils.run 01_bell_pepper_tsne -p out_dir figures/01_bell_pepper_tsne
	$(PY) -m mfv_utils.run 01_bell_pepper_tsne -p images paper:movie_theater -p out_dir figures/01_movie_theater_tsne
	$(PY) -m mfv_utils.run 01_bell_pepper_tsne -p images imagenette:church -p perplexity 30.0 \
		-p out_dir figures/01_church_tsne
	@# three Imagenette classes no recipe was tuned on (the method was chosen on the three above)
	for c in tench garbage_truck golf_ball; do \
		$(PY) -m mfv_utils.run 01_bell_pepper_tsne -p images imagenette:$$c -p perplexity 30.0 \
			-p out_dir figures/01_$${c}_tsne || exit 1; done
	$(PY) -m mfv_utils.run 04_prior_comparison
	$(PY) -m mfv_utils.run 03_interpolation_study
	$(PY) -m mfv_utils.run 02_hidden_layer_facets
	$(PY) -m mfv_utils.run 05_hidden_unit_attribution
	$(PY) -m mfv_utils.run 06_class_atlas
	$(PY) -m mfv_utils.run 07_validation_facets
	$(PY) -m mfv_utils.run 08_largest_facets
	$(PY) -m mfv_utils.run 09_pool_atlas

## every claim of the README over seeds (issue 32), resumable (build/claims caches each seed's run):
## figures/claims.json, figures/claims.png and the table in docs/claims.md. ONLY=01_ runs a subset.
SEEDS ?= 5
claims: setup
	$(PY) -m mfv_utils.claims --seeds $(SEEDS) $(if $(ONLY),--only $(ONLY))

test: setup
	$(PY) -m pytest -q

## the teaching app: every explorer as a page, served by Voila on 127.0.0.1 (first line: its address)
PORT ?= 8866
teach: setup
	@$(PY) -m mfv_utils.teach --port $(PORT)

## JupyterLab on the repository; a notebooks/*.py source opens as a notebook (jupytext)
LAB_PORT ?= 8888
lab: setup
	@$(PY) -m mfv_utils.lab --port $(LAB_PORT)

## an atlas of any layer on Dask, then its static site, e.g.
## make atlas LAYER=pool UNITS=0-1279 OUT=atlas/lite0-pool [ATLAS_ARGS="--workers 4 --k auto"]
LAYER ?= logits
UNITS ?= 0-999
OUT ?= atlas/lite0-$(LAYER)
atlas: setup
	$(PY) -m mfv_utils.atlas --layer $(LAYER) --units $(UNITS) --out $(OUT) $(ATLAS_ARGS)
	$(PY) -m mfv_utils.atlas site $(OUT)

bench: setup
	$(PY) benchmarks/bench_tv.py --check
	$(PY) benchmarks/bench_step.py
	$(PY) benchmarks/bench_methods.py
	$(PY) benchmarks/stage_timings.py
	$(PY) benchmarks/ari_seeds.py
	$(PY) benchmarks/smoke_spread.py

clean:
	rm -rf build .cache
