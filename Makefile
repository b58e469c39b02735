# The dependency locks.
#
#   make lock                                   # after changing pyproject.toml's dependencies
#   make lock UPGRADE="--upgrade-package NAME"  # move one package (or UPGRADE=--upgrade: all)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.SUFFIXES:

REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
# bash .ci/setup makes both (uv at the version requirements.lock names)
PYTHON ?= $(REPO)/.venv/bin/python
UV ?= $(REPO)/.venv/bin/uv

# Lambda's python3.13 on x86_64 runs on Amazon Linux 2023 (glibc 2.34)
LAMBDA_TARGET := --python-platform x86_64-manylinux_2_34 --python-version 3.13

.PHONY: lock layer-requirements

# requirements.lock: every package of the project and its dev tools, pinned with hashes,
# for any platform; the one place a version changes. Then the SAM CLI's own lock and the
# layer's requirements, which are generated from it.
lock:
	cd "$(REPO)" && "$(UV)" pip compile pyproject.toml --extra dev --universal --python-version 3.13 \
	  --generate-hashes --quiet --custom-compile-command "make lock" $(UPGRADE) -o requirements.lock
	cd "$(REPO)" && "$(UV)" pip compile --group sam --universal --python-version 3.13 \
	  --generate-hashes --quiet --custom-compile-command "make lock" $(UPGRADE) -o .ci/sam-cli.lock
	$(MAKE) --no-print-directory -f "$(abspath $(lastword $(MAKEFILE_LIST)))" layer-requirements

# layers/round0/requirements.txt: pyproject's dependencies but boto3 (the runtime's), with
# everything they need on Lambda, at the versions and hashes of requirements.lock
layer-requirements:
	cd "$(REPO)" && "$(PYTHON)" -c 'import tomllib; \
	  deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; \
	  print("\n".join(d for d in deps if not d.startswith("boto3")))' \
	  | "$(UV)" pip compile - --constraint requirements.lock $(LAMBDA_TARGET) --generate-hashes \
	    --quiet --custom-compile-command "make lock" -o layers/round0/requirements.txt
