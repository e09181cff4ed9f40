# Shortcuts for the two README commands and the linters.
.PHONY: run test lint lock bench

run:
	./bin/run

# make test ARGS="-k resolver -x"
test:
	./bin/test $(ARGS)

# The checks bin/test runs before pytest: ruff, ruff format, mypy and the import contract.
lint:
	bash -c '. bin/lib.sh && venv_ensure dev && lint_run'

# Recompile the lock files after changing dependencies in pyproject.toml; keeps every other
# pin. Upgrades: make lock ARGS="--upgrade-package django" (or ARGS=--upgrade for all).
LOCK = .venv/bin/uv pip compile pyproject.toml --universal --python-version 3.12 \
	--generate-hashes --custom-compile-command "make lock" --quiet $(ARGS)
lock:
	bash -c '. bin/lib.sh && venv_ensure dev'
	$(LOCK) -o requirements/runtime.txt
	$(LOCK) --extra dev --constraint requirements/runtime.txt -o requirements/dev.txt

# The mass-mailing benchmark (bench/run.py): make bench ARGS="--n 300 --rounds 5"
bench:
	.venv/bin/python -m bench.run $(ARGS)
