# Two entry points (see README):  make demo   and   make test
# Both create .venv on first use and reinstall only when requirements.txt changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast release release-check clean

setup: $(STAMP)

# Without pip's site configuration, keep trusting the system CA bundle where there is one.
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
PIP_CERT ?= /etc/ssl/certs/ca-certificates.crt
export PIP_CERT
endif

# pip's site configuration on some machines adds a local torch wheel (CPU build) that the
# registry's torchvision cannot load: install both from the registry, in one call.
# Then the student package (nncourse) and the instructor package (autograder), both editable.
$(STAMP): requirements.txt pyproject.toml instructor/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(PY) -m pip install --quiet -r requirements.txt
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(PY) -m pip install --quiet --no-deps -e . -e instructor
	@command -v bwrap >/dev/null || echo "note: bubblewrap is not installed; grading will use the weaker seccomp sandbox (apt-get install bubblewrap)"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder demo

test: $(STAMP)
	$(PY) -m pytest --durations=40

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

release: $(STAMP)
	$(PY) -m autograder release

release-check: $(STAMP)
	$(PY) -m autograder release --check

clean:
	rm -rf $(VENV) .pytest_cache
