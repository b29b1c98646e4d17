#!/usr/bin/env bash
# Lints what no compiler checks: the Dockerfile (hadolint) and the GitHub workflows
# (actionlint, which also checks the shell in `run:` steps when shellcheck is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/hadolint Dockerfile
.venv/bin/actionlint -no-color .github/workflows/*.yml
echo "lint: Dockerfile and workflows are clean"
