# The two commands a new user needs: `make run` and `make test`.
.PHONY: run test setup train crossval evaluate bench

run:            ## set up, then run web + worker (+ Redis if none answers) on http://127.0.0.1:8000
	scripts/run.sh

test:           ## set up as `run` does, then run the whole test suite
	scripts/test.sh

setup:
	scripts/setup.sh

train:          ## source-held-out cross-validation, then the shipped detector, thresholds and level rates (about 1 h 50 min on 2 busy cores, less on quiet ones)
	scripts/setup.sh --test && nice -n 10 .venv/bin/python -m models.train

crossval:       ## the source-held-out table of every design (models/crossval.json), as in the model card
	scripts/setup.sh --test && nice -n 10 .venv/bin/python -m models.crossval --json models/crossval.json

evaluate:       ## make evaluate DIR=folder-with-real-and-fake
	scripts/setup.sh --test && .venv/bin/python -m models.evaluate $(DIR) --robustness --plot roc.png

bench:          ## service vs raw model benchmark (issue 7): writes benchmarks/results/latest.json
	scripts/setup.sh --test && .venv/bin/python -m benchmarks.run
