# The two commands of README.md: `make demo` and `make test`.
.PHONY: setup test demo crds build

setup:
	scripts/setup.sh

build:
	cargo build --workspace --all-targets

test: setup
	cargo test --workspace --no-fail-fast
	.venv/bin/pytest -q tests/chart

crds:
	cargo run -q --bin elb-operator -- crdgen > crds/elb.operator.dev.yaml

demo:
	scripts/demo.sh

demo-once:
	scripts/demo.sh --once
