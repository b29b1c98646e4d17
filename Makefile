# The two commands of README.md: `make demo` and `make test`.
.PHONY: setup test demo demo-once crds build

setup:
	scripts/setup.sh

build:
	cargo build --workspace --all-targets

test: setup
	cargo test --workspace --no-fail-fast
	.venv/bin/pytest -q tests/chart
	scripts/demo.sh --once

# Regenerate crds/ (and check the chart's copy) from the Rust types.
crds:
	UPDATE_CRDS=1 cargo test -q --test crd_schema

demo:
	scripts/demo.sh

demo-once:
	scripts/demo.sh --once
