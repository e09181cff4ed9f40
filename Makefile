# Shortcuts for the two README commands and the linters.
.PHONY: run test lint bench

run:
	./bin/run

# make test ARGS="-k resolver -x"
test:
	./bin/test $(ARGS)

lint:
	bash -c '. bin/lib.sh && venv_ensure dev && "$$VENV_DIR/bin/ruff" check . \
		&& "$$VENV_DIR/bin/ruff" format --check . && "$$VENV_DIR/bin/mypy" .'

# The mass-mailing benchmark (bench/run.py): make bench ARGS="--n 300 --rounds 5"
bench:
	.venv/bin/python -m bench.run $(ARGS)
