#!/usr/bin/env bash
# Lints: Rust formatting and clippy (warnings are errors), the Dockerfile (hadolint), the
# GitHub workflows (actionlint, which also checks the shell in `run:` steps when shellcheck
# is installed) and the IAM policies (parliament, with its community auditors: no finding
# above LOW).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
.venv/bin/hadolint Dockerfile
.venv/bin/actionlint -no-color .github/workflows/*.yml
# The chart README's values table is generated from values.schema.json.
.venv/bin/python scripts/chart-readme.py --check

# parliament reads identity policies only: a trust policy has a Principal and no Resource,
# which it reports as MALFORMED (duo-labs/parliament#229). Its statements are linted as the
# identity policy they would be on the role ARN (actions and condition keys are checked the
# same way). --files, not --file: with --file, parliament refuses a non-terminal stdin (CI).
policies=$(mktemp -d)
trap 'rm -rf "$policies"' EXIT
.venv/bin/python - docs/iam-trust-policy.json "$policies/iam-trust-policy-as-identity.json" <<'PY'
import json, sys
policy = json.load(open(sys.argv[1]))
for statement in policy["Statement"]:
    del statement["Principal"]
    statement["Resource"] = "arn:aws:iam::*:role/*"
json.dump(policy, open(sys.argv[2], "w"), indent=2)
PY
.venv/bin/parliament --include-community-auditors --config scripts/parliament.yaml --minimum_severity MEDIUM \
    --files "docs/iam-policy.json,$policies/iam-trust-policy-as-identity.json"
echo "lint: rustfmt, clippy, Dockerfile, workflows, the chart README and IAM policies are clean"
