#!/usr/bin/env bash
# Lints: Rust formatting and clippy (warnings are errors), the Dockerfile (hadolint) and the
# GitHub workflows (actionlint, which also checks the shell in `run:` steps when shellcheck
# is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
.venv/bin/hadolint Dockerfile
.venv/bin/actionlint -no-color .github/workflows/*.yml
echo "lint: rustfmt, clippy, Dockerfile and workflows are clean"
