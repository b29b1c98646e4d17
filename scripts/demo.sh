#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on a local default.
#   moto's server (ELB + EC2) and the in-memory Kubernetes API stand-in on loopback ports,
#   the CRDs and the tutorial's resources applied with kubectl, Nodes and Pods backed by
#   EC2 instances, the operator running, and the load balancer converging to Ready.
# With --once (CI's smoke test) it exits after the first Ready; otherwise it keeps
# everything running for your own kubectl edits until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1

scripts/setup.sh
cargo build -q --bin elb-operator -p elb-operator
cargo build -q --bin kube-standin -p kube-standin
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

work=$PWD/.work/demo
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for <seconds> <description> <command...>
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "demo: timed out waiting for $what" >&2; return 1
}

moto_port=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=($!)
moto="http://127.0.0.1:$moto_port"
wait_for 30 "moto" python3 -c "import urllib.request; urllib.request.urlopen('$moto/moto-api/')"

kube_port=$(free_port)
"$target_dir/debug/kube-standin" --port "$kube_port" --kubeconfig "$work/kubeconfig" > "$work/standin.log" 2>&1 &
pids+=($!)
export KUBECONFIG=$work/kubeconfig
k() { kubectl --cache-dir "$work/kube-cache" "$@"; }
wait_for 30 "the Kubernetes API stand-in" k get --raw /version

k apply -f crds/ >/dev/null
k wait --for=condition=Established crd/loadbalancers.elb.operator.dev crd/healthchecks.elb.operator.dev --timeout=30s >/dev/null

# Nodes backed by EC2 instances in moto, with a Ready web pod on each.
.venv/bin/python scripts/demo_cluster.py --endpoint "$moto" > "$work/cluster.yaml"
k apply -f "$work/cluster.yaml" >/dev/null
status=$(.venv/bin/python scripts/demo_cluster.py --pod-status)
for pod in $(k get pods -l app=web -o name); do
  k patch "$pod" --subresource=status --type=merge -p "$status" >/dev/null
done

export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_ENDPOINT_URL="$moto"
"$target_dir/debug/elb-operator" run --region us-east-1 --cluster-name demo \
  --health-poll-interval 2s --log-format text --http-bind "127.0.0.1:$(free_port)" \
  > "$work/operator.log" 2>&1 &
pids+=($!)

k apply -f examples/tutorial.yaml
echo "demo: waiting for the load balancer to be Ready (operator log: $work/operator.log)"
if ! k wait --for=condition=Ready loadbalancer/my-lb --timeout=120s; then
  tail -n 30 "$work/operator.log" >&2
  exit 1
fi
echo
k get loadbalancers,healthchecks -o wide
echo
echo "Per-instance health:"
k get loadbalancer my-lb -o jsonpath='{range .status.instances[*]}  {.instanceId}  {.availabilityZone}  {.node}  {.state}{"\n"}{end}'
echo
if [ "$once" = 1 ]; then
  exit 0
fi
cat <<MSG
Everything keeps running. In another shell:
  export KUBECONFIG=$KUBECONFIG
  kubectl get loadbalancers -o wide     # then edit examples/tutorial.yaml and kubectl apply it
Press Ctrl-C to stop.
MSG
while true; do sleep 3600; done
