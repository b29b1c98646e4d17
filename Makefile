# The two commands of README.md: `make demo` and `make test`.
# One build serves everything: .cargo/config.toml makes every cargo command build static
# x86_64 binaries, so the tests, the demo and the container image share target/.
.PHONY: setup test demo demo-once crds build image image-archive lint

# `make demo IMAGE=1` runs the operator from the container image.
IMAGE ?= 0

# CI builds once from a clean clone: incremental caches would only add about 3 GB of disk
# (a CI run once failed with "No space left on device") and time.
ifdef CI
export CARGO_INCREMENTAL = 0
endif

setup:
	scripts/setup.sh

build:
	cargo build --workspace --all-targets

test: setup
	scripts/lint.sh
	cargo test --workspace --no-fail-fast
	.venv/bin/pytest -q tests/chart
	scripts/demo.sh --once
	IMAGE=1 scripts/demo.sh --once

# Regenerate crds/ (and check the chart's copy) from the Rust types.
crds:
	UPDATE_CRDS=1 cargo test -q --test crd_schema

demo:
	IMAGE=$(IMAGE) scripts/demo.sh

demo-once:
	IMAGE=$(IMAGE) scripts/demo.sh --once

# The container image (podman; CONTAINER_ENGINE=docker works too) from the shared build;
# PROFILE=release for an optimised binary.
image: setup
	scripts/image.sh

# The release artifact: the image as an OCI archive.
image-archive: setup
	PROFILE=release scripts/image.sh --save elb-operator-image.oci.tar

lint: setup
	scripts/lint.sh
