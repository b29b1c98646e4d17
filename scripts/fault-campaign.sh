#!/usr/bin/env bash
# The large fault campaign (issue 10, item 8): the operator binary against moto and the
# Kubernetes API stand-in, through the fault proxy, with 30 LoadBalancers, 50 rounds of
# edits, deletions and re-creations, 30% of ELB calls faulted (before or after moto applied
# them) and a SIGKILL plus restart in 60% of the rounds. It then checks every invariant
# within 60 s of the faults stopping and prints its figures (recorded in
# docs/reliability.md, "Fault campaign").
#
# Every FAULT_CAMPAIGN_* variable can be overridden, e.g.
#   FAULT_CAMPAIGN_SEED=7 scripts/fault-campaign.sh
# The operator logs and the proxy's request log are kept in $FAULT_CAMPAIGN_LOG_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export FAULT_CAMPAIGN_SEED="${FAULT_CAMPAIGN_SEED:-2026}"
export FAULT_CAMPAIGN_RESOURCES="${FAULT_CAMPAIGN_RESOURCES:-30}"
export FAULT_CAMPAIGN_ROUNDS="${FAULT_CAMPAIGN_ROUNDS:-50}"
export FAULT_CAMPAIGN_RATE="${FAULT_CAMPAIGN_RATE:-0.3}"
export FAULT_CAMPAIGN_KILL_CHANCE="${FAULT_CAMPAIGN_KILL_CHANCE:-0.6}"
export FAULT_CAMPAIGN_LOG_DIR="${FAULT_CAMPAIGN_LOG_DIR:-target/fault-campaign/seed-$FAULT_CAMPAIGN_SEED}"
echo "fault campaign: seed=$FAULT_CAMPAIGN_SEED resources=$FAULT_CAMPAIGN_RESOURCES rounds=$FAULT_CAMPAIGN_ROUNDS rate=$FAULT_CAMPAIGN_RATE kill-chance=$FAULT_CAMPAIGN_KILL_CHANCE logs=$FAULT_CAMPAIGN_LOG_DIR"
exec cargo test --test faults -- --exact campaign::fault_campaign_converges_without_leaks_duplicates_or_foreign_changes --nocapture
