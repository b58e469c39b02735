# Lambda artifacts for `sam build`, and the dependency locks.
#
# `sam build` runs `make build-<LogicalId>` for every resource whose Metadata says
# `BuildMethod: makefile` (template.yaml, with `ContextPath: .` naming this file), in a
# scratch copy of the resource's CodeUri, with ARTIFACTS_DIR set to where the artifact goes.
# Each artifact ships compiled: hash-based .pyc for CPython 3.13 beside every module, as
# Lambda unpacks the zip with every file dated 1980-01-01 into a read-only /opt or /var/task,
# where default (timestamp) .pyc would be stale and none can be written.
#   - layer: `unchecked-hash`. A layer version never changes once published (and /opt is
#     read-only), so checking each source's hash at import would only cost time.
#   - functions: `checked-hash`. The Lambda console's code editor can change a function's .py
#     and redeploy the zip with the old .pyc beside it; a checked .pyc then loses to the edited
#     source instead of running stale code. These are a few small modules, so the check is cheap.
# Two builds of the same commit give the same bytes (same wheels by hash, PYTHONHASHSEED=0,
# installer records dropped, every entry created in name order, dated 1980-01-01, mode
# 644/755), so SAM zips the same bytes and a deploy with no change publishes no new version.
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
# 1980-01-01T00:00:00Z: the date the deploy zip gives every file
EPOCH := 315532800
# the artifact is staged in make's working directory (SAM's scratch copy), then placed
STAGE := $(CURDIR)/.lambda-stage

FUNCTIONS := IngestFunction SweeperFunction NotifyFunction ArchiveFunction AtsSyncFunction
.PHONY: lock layer-requirements build-SharedLayer $(addprefix build-,$(FUNCTIONS))

define check-tools
	@test -x "$(UV)" || { echo "no uv at $(UV): run 'bash .ci/setup' first" >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.implementation.cache_tag != "cpython-313")' \
	  || { echo "$(PYTHON) is not CPython 3.13, Lambda's python3.13: run 'bash .ci/setup'" >&2; exit 1; }
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is unset: sam build sets it" >&2; exit 1; }
endef

# $(call compile,TREE,PATH ON LAMBDA,INVALIDATION MODE): a .pyc beside every module; the
# code objects name each file by its path on Lambda, not by this build's scratch directory
# (which would make every build's bytes differ)
compile = PYTHONHASHSEED=0 "$(PYTHON)" -m compileall -q -j 0 --invalidation-mode $(3) -s "$(1)" -p $(2) "$(1)"

# $(call place,TREE,DESTINATION,MODE): copy with fixed modes and dates, creating every entry in
# name order (the order directories list them in on file systems that keep insertion order)
define place
	@find "$(1)" -type d -exec chmod 755 {} + && find "$(1)" -type f -exec chmod 644 {} +
	@tar -c -C "$(1)" --sort=name --mtime=@$(EPOCH) --owner=0 --group=0 --numeric-owner . \
	  | tar -x -C "$(2)" --no-same-owner --preserve-permissions
	@rm -rf "$(STAGE)"
	@echo "$(@:build-%=%): $$(find "$(2)" -name '*.py' | wc -l) modules, $$(find "$(2)" -name '*.pyc' | wc -l) $(3) .pyc"
endef

# The shared layer: the locked dependencies installed for Lambda's platform (binary wheels,
# hashes checked), less the installers' records and scripts, plus the round0 package.
# boto3, botocore and s3transfer are not in it: the runtime ships them compiled.
build-SharedLayer:
	$(check-tools)
	@rm -rf "$(STAGE)" && mkdir -p "$(STAGE)/python"
	@"$(UV)" pip install --quiet --no-deps --require-hashes --only-binary :all: $(LAMBDA_TARGET) \
	  --python "$(PYTHON)" --target "$(STAGE)/python" -r requirements.txt
	@rm -rf "$(STAGE)/python/bin" "$(STAGE)/python/.lock"
	@rm -f "$(STAGE)"/python/*.dist-info/{RECORD,INSTALLER,REQUESTED,direct_url.json}
	@tar -c --exclude=__pycache__ --exclude='*.pyc' round0 | tar -x -C "$(STAGE)/python"
	@$(call compile,$(STAGE)/python,/opt/python,unchecked-hash)
	$(call place,$(STAGE),$(ARTIFACTS_DIR),unchecked-hash)

# A function: its package(s) as they are in the repository, compiled.
$(addprefix build-,$(FUNCTIONS)):
	$(check-tools)
	@rm -rf "$(STAGE)" && mkdir -p "$(STAGE)"
	@tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' --exclude='.*' * \
	  | tar -x -C "$(STAGE)"
	@$(call compile,$(STAGE),/var/task,checked-hash)
	$(call place,$(STAGE),$(ARTIFACTS_DIR),checked-hash)

# requirements.lock: every package of the project and its dev tools, pinned with hashes,
# for any platform; the one place a version changes. Then the SAM CLI's and checkov's own
# locks, the local Lambda runtime's (.venv-lambda: the SDK at requirements.lock's versions)
# and the layer's requirements, which are generated from it.
lock:
	cd "$(REPO)" && "$(UV)" pip compile pyproject.toml --extra dev --universal --python-version 3.13 \
	  --generate-hashes --quiet --custom-compile-command "make lock" $(UPGRADE) -o requirements.lock
	cd "$(REPO)" && "$(UV)" pip compile --group sam --universal --python-version 3.13 \
	  --generate-hashes --quiet --custom-compile-command "make lock" $(UPGRADE) -o .ci/sam-cli.lock
	cd "$(REPO)" && "$(UV)" pip compile --group scan --universal --python-version 3.13 \
	  --generate-hashes --quiet --custom-compile-command "make lock" $(UPGRADE) -o .ci/checkov.lock
	cd "$(REPO)" && "$(UV)" pip compile --group lambda-runtime --constraint requirements.lock \
	  --universal --python-version 3.13 --generate-hashes --quiet --custom-compile-command "make lock" \
	  $(UPGRADE) -o .ci/lambda-runtime.lock
	$(MAKE) --no-print-directory -f "$(REPO)/Makefile" layer-requirements

# layers/round0/requirements.txt: pyproject's dependencies but boto3 (the runtime's), with
# everything they need on Lambda, at the versions and hashes of requirements.lock
layer-requirements:
	cd "$(REPO)" && "$(PYTHON)" -c 'import tomllib; \
	  deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; \
	  print("\n".join(d for d in deps if not d.startswith("boto3")))' \
	  | "$(UV)" pip compile - --constraint requirements.lock $(LAMBDA_TARGET) --generate-hashes \
	    --quiet --custom-compile-command "make lock" -o layers/round0/requirements.txt
