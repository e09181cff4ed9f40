# Shortcuts for the two README commands and the linters.
.PHONY: run test lint lock bench messages

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

# The translation catalogs of every app (<app>/locale/): refresh them from the code and the
# templates, then compile the .mo files (committed, so the image needs no gettext).
# Name the apps (several people translate at once): make messages APPS="users events"
ALL_APPS = directo_mail users events oauth365 mailer massmail customers invoices letters deliverability portal
messages:
	@test -n "$(APPS)" || { echo 'name the apps: make messages APPS="users events" (all: APPS="$(ALL_APPS)")'; exit 2; }
	bash -c '. bin/lib.sh && venv_ensure dev'
	for app in $(APPS); do (cd $$app && ../.venv/bin/django-admin makemessages \
		--locale=et --locale=lv --locale=pl --no-obsolete --add-location=file \
		--extension=html,txt,py) || exit 1; done
	for app in $(APPS); do (cd $$app && ../.venv/bin/django-admin makemessages \
		--domain=djangojs --locale=et --locale=lv --locale=pl --no-obsolete \
		--add-location=file --ignore=locale) || exit 1; done
	for app in $(APPS); do (cd $$app && ../.venv/bin/django-admin compilemessages) || exit 1; done

# The mass-mailing benchmark (bench/run.py): make bench ARGS="--n 300 --rounds 5"
bench:
	.venv/bin/python -m bench.run $(ARGS)
