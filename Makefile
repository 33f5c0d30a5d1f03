# The two commands: `make run` (the assistant) and `make test` (every suite).
SHELL := /bin/bash
ACT := .venv-actions/bin/python
RASA_PY := .venv-rasa/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: audit run test install browser services console-user console-unlock ingest model shell lint unit e2e scaled nlu-eval nlu-routing core-eval chat-eval bench bench-load bench-ablation clean

# PROFILE=embedded (default: SQLite, one instance of each server) or PROFILE=scaled
# (PostgreSQL, Redis, two Rasa and two action server instances behind nginx; docs/scaling.md).
PROFILE ?= embedded

run: install ingest model $(if $(filter scaled,$(PROFILE)),services)
	ASSISTANT_PROFILE=$(PROFILE) $(ACT) -m assistant.run

# Every suite: lint, unit and end-to-end tests (pytest), the custom NLU components inside Rasa's
# own runtime, then Rasa's NLU cross-validation and test stories (reports land in results/).
test: install browser services lint ingest model
	$(ACT) -m pytest -q tests
	$(RASA_PY) -m pytest -q tests/rasa_runtime --confcutdir tests/rasa_runtime -p no:cacheprovider -W ignore::DeprecationWarning
	$(ACT) -m assistant.dialogue_evaluation core
	$(ACT) -m assistant.dialogue_evaluation nlu

install: .venv-rasa/.installed .venv-actions/.installed

.venv-rasa/.installed: requirements/rasa.txt assistant/scripts/bootstrap.sh
	bash assistant/scripts/bootstrap.sh rasa
	touch $@

.venv-actions/.installed: requirements/actions.txt requirements/actions-nodeps.txt assistant/scripts/bootstrap.sh
	bash assistant/scripts/bootstrap.sh actions
	touch $@

# Debian's chromium and chromedriver for the console's browser tests (needs root or sudo).
browser:
	bash assistant/scripts/bootstrap.sh browser

# Debian's PostgreSQL, Redis and nginx for the scaled profile and its tests (root or sudo).
services:
	bash assistant/scripts/bootstrap.sh services

# Staff accounts: make console-user NAME=li ROLE=staff (asks for the password, or CONSOLE_PASSWORD).
console-user: install
	$(ACT) -m assistant.console add-user $(NAME) --role $(or $(ROLE),staff)

# Lift the login lockouts of an account: make console-unlock NAME=li (ADDRESS=… also lifts
# that client address's lockout on every account; the console's log names the address).
console-unlock: install
	$(ACT) -m assistant.console unlock $(NAME) $(if $(ADDRESS),--address $(ADDRESS))

ingest: install
	bin/kb ingest

model: install
	$(ACT) -m assistant.model_builder

# Terminal chat; needs the action server of a running `make run` (ASSISTANT_HOST:ACTION_PORT,
# default 127.0.0.1:5055) and its secret, which `make run` leaves in var/run/action-server.token
# (0600) and which is read into the environment here, never onto a command line. Its own Rasa
# listens on 127.0.0.1:SHELL_PORT (default 5006) only and keeps the conversation in
# ASSISTANT_VAR_DIR (default var/), like `make run`.
shell: install
	umask 077; mkdir -p "$${ASSISTANT_VAR_DIR:-var}/rasa"
	@umask 077; token_file="$${ASSISTANT_VAR_DIR:-var}/run/action-server.token"; \
	if [ -z "$${ACTION_SERVER_TOKEN:-}" ] && [ ! -r "$$token_file" ]; then \
	  echo "make shell: 请先运行 make run（未找到 $$token_file）/ start make run first (no $$token_file)" >&2; \
	  exit 2; \
	fi; \
	ACTION_SERVER_TOKEN="$${ACTION_SERVER_TOKEN:-$$(cat "$$token_file")}" \
	ACTION_ENDPOINT_URL=http://$${ASSISTANT_HOST:-127.0.0.1}:$${ACTION_PORT:-5055}/webhook \
	TRACKER_DB="$${ASSISTANT_VAR_DIR:-var}/rasa/tracker.db" \
	  .venv-rasa/bin/rasa shell --endpoints endpoints.yml --model "$${ASSISTANT_MODELS_DIR:-models}" \
	  --interface 127.0.0.1 --port $${SHELL_PORT:-5006}

# ruff, then the import contracts in pyproject.toml (docs/architecture.md).
lint: install
	$(ACT) -m ruff check .
	.venv-actions/bin/lint-imports --no-cache

unit: install ingest
	$(ACT) -m pytest -q tests/unit

e2e: install ingest model
	$(ACT) -m pytest -q tests/e2e

scaled: install services ingest model
	$(ACT) -m pytest -q tests/scaled

nlu-eval: install
	$(ACT) -m assistant.dialogue_evaluation nlu

# How the trained model routes the held-out question sets (report only; results/nlu/routing.json).
nlu-routing: install model
	$(RASA_PY) bench/nlu_routing.py

core-eval: install model
	$(ACT) -m assistant.dialogue_evaluation core

# The product measure: owners' questions and scripted dialogues over REST against real servers
# (eval/chat/, tuning and held-out halves; table + results/chat/chat_eval.json). A report.
chat-eval: install ingest model
	$(ACT) -m assistant.chat_evaluation $(CHAT_EVAL_ARGS)

# Retrieval latency and build-time benchmark (table + JSON in results/bench/); not a test.
bench: install ingest
	$(ACT) bench/retrieval_bench.py

# Load benchmark of both profiles on loopback (table + JSON in results/bench/load.json).
bench-load: install services ingest model
	$(ACT) bench/load_bench.py $(BENCH_ARGS)

# Known vulnerabilities in the locked requirements of both runtimes (pip-audit, own venv).
# Not part of `make test`: PyPI's vulnerability data is not reachable from these machines, and
# the script then says that nothing was audited (exit 3) instead of reporting "no findings".
audit: .venv-audit/.installed
	bash assistant/scripts/audit.sh

.venv-audit/.installed: requirements/audit.txt
	python3 -m venv .venv-audit
	.venv-audit/bin/python -m pip install --disable-pip-version-check -q -r requirements/audit.txt
	touch $@

bench-ablation: install ingest
	$(ACT) bench/retrieval_ablation.py

clean:
	rm -rf var models results
