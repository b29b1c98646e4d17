#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on a local default.
#   moto's server (ELB + EC2) and the in-memory Kubernetes API stand-in on loopback ports,
#   the CRDs and the tutorial's resources applied with kubectl, Nodes and Pods backed by
#   EC2 instances, the operator running, and the load balancer converging to Ready.
# It ends with a short tour (explain, describe, a zone edit, a stopped instance, deletion)
# and keeps everything running for your own kubectl edits until Ctrl-C.
#
#   --once     CI's smoke test: walks the tour itself, checking what each step shows, then exits
#   IMAGE=1    runs the operator from the container image (`make image`) instead of the host
#              binary; with --once it also checks that the process runs as uid 65532
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
once=0
[ "${1:-}" = "--once" ] && once=1
image=${IMAGE:-0}
[ "$image" = 0 ] || image=1

scripts/setup.sh
build_shared
bin=$(bin_dir debug)
if [ "$image" = 1 ]; then
  scripts/image.sh
fi

work=$PWD/.work/demo
rm -rf "$work" && mkdir -p "$work"
pids=()
container=elb-operator-demo-$$
cleanup() {
  if [ "$image" = 1 ]; then
    "$ENGINE" rm -f -t 5 "$container" >/dev/null 2>&1 || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$work/env"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for <seconds> <description> <command...>
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "demo: timed out waiting for $what" >&2; return 1
}
fail() {
  echo "demo: $*" >&2
  tail -n 30 "$work/operator.log" >&2 || true
  exit 1
}

moto_port=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=($!)
moto="http://127.0.0.1:$moto_port"
wait_for 30 "moto" python3 -c "import urllib.request; urllib.request.urlopen('$moto/moto-api/')"

kube_port=$(free_port)
"$bin/kube-standin" --port "$kube_port" --kubeconfig "$work/kubeconfig" > "$work/standin.log" 2>&1 &
pids+=($!)
export KUBECONFIG=$work/kubeconfig
k() { kubectl --cache-dir "$work/kube-cache" "$@"; }
wait_for 30 "the Kubernetes API stand-in" k get --raw /version

k apply -f crds/ >/dev/null
k wait --for=condition=Established crd/loadbalancers.elb.operator.dev crd/healthchecks.elb.operator.dev crd/loadbalancerclasses.elb.operator.dev --timeout=30s >/dev/null

# Nodes backed by EC2 instances in moto, with a Ready web pod on each.
.venv/bin/python scripts/demo_cluster.py --endpoint "$moto" > "$work/cluster.yaml"
k apply -f "$work/cluster.yaml" >/dev/null
status=$(.venv/bin/python scripts/demo_cluster.py --pod-status)
for pod in $(k get pods -l app=web -o name); do
  k patch "$pod" --subresource=status --type=merge -p "$status" >/dev/null
done

export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_ENDPOINT_URL="$moto"
cat > "$work/env" <<ENV
export KUBECONFIG=$KUBECONFIG
export AWS_ENDPOINT_URL=$moto
ENV
http_port=$(free_port)
operator_args=(run --region us-east-1 --cluster-name demo --health-poll-interval 2s
  --log-format text --http-bind "127.0.0.1:$http_port")
if [ "$image" = 1 ]; then
  # The image as a cluster would run it: read-only root, no capabilities, its own user.
  # The ELB endpoint is reached by a host name (resolved from /etc/hosts inside the
  # scratch image by the static glibc), the Kubernetes API through the mounted kubeconfig.
  "$ENGINE" run --rm --name "$container" --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges --add-host "moto.demo.internal:127.0.0.1" \
    -v "$work/kubeconfig:/etc/elb-operator/kubeconfig:ro" \
    -e KUBECONFIG=/etc/elb-operator/kubeconfig -e AWS_ACCESS_KEY_ID=demo -e AWS_SECRET_ACCESS_KEY=demo \
    -e AWS_ENDPOINT_URL="http://moto.demo.internal:$moto_port" \
    "$IMAGE_NAME" "${operator_args[@]}" > "$work/operator.log" 2>&1 &
  pids+=($!)
  echo "demo: the operator runs from the image $IMAGE_NAME (container $container)"
else
  "$bin/elb-operator" "${operator_args[@]}" > "$work/operator.log" 2>&1 &
  pids+=($!)
fi
wait_for 60 "the operator's /healthz" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$http_port/healthz')" \
  || fail "the operator did not start"

if [ "$image" = 1 ]; then
  if [ "$ENGINE" = podman ] && [ "$(podman info --format '{{.Host.Security.Rootless}}')" = true ]; then
    # Rootless: host uids are shifted; ask for the user inside the container's namespace.
    user=$(podman top "$container" user | awk 'NR == 2 {print $1}')
    echo "demo: the containerised operator runs as $user"
    [ "$user" = nonroot ] || [ "$user" = 65532 ] || fail "expected uid 65532 (nonroot)"
  else
    pid=$("$ENGINE" inspect --format '{{.State.Pid}}' "$container")
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    echo "demo: the containerised operator (host pid $pid) runs as uid $uid"
    [ "$uid" = 65532 ] || fail "expected uid 65532"
  fi
fi

k apply -f examples/tutorial.yaml
echo "demo: waiting for the load balancer to be Ready (operator log: $work/operator.log)"
k wait --for=condition=Ready loadbalancer/my-lb --timeout=120s || fail "my-lb did not become Ready"
echo
k get loadbalancers,healthchecks -o wide
echo
echo "Per-instance health:"
k get loadbalancer my-lb -o jsonpath='{range .status.instances[*]}  {.instanceId}  {.availabilityZone}  {.node}  {.state}{"\n"}{end}'
echo

instance_b=$(k get loadbalancer my-lb -o jsonpath='{.status.instances[?(@.availabilityZone=="us-east-1b")].instanceId}')

# The way off Classic ELB: the tutorial's LoadBalancer as AWS Load Balancer Controller
# manifests, and the field-by-field report. Exit code 3: something is approximated (the
# pods become IP targets), so it is not a failure here.
migrate_report() {
  local code=0
  "$bin/elb-operator" migrate my-lb --out-dir "$work/migrate" > "$work/migrate.txt" || code=$?
  cat "$work/migrate.txt"
  [ "$code" = 3 ] || fail "migrate exited $code, expected 3 (approximated)"
  grep -q 'my-lb (ELB my-lb) -> alb + nlb' "$work/migrate.txt" || fail "migrate did not split the tutorial's listeners"
  grep -q 'kind: Ingress' "$work/migrate/default_my-lb.yaml" || fail "migrate wrote no Ingress"
}

if [ "$once" = 1 ]; then
  # The tour, walked and checked.
  step() { echo; echo "tour: \$ $*"; }
  step kubectl explain loadbalancer.spec.listeners
  out=$(k explain loadbalancer.spec.listeners)
  echo "$out" | head -n 12
  grep -q 'FIELD: listeners <\[\]Object>' <<<"$out" && grep -q 'instancePort' <<<"$out" || fail "explain did not describe the listeners"

  step kubectl describe loadbalancer my-lb
  out=$(k describe loadbalancer my-lb)
  grep -E '^(Name:|Events:)|Type: +Ready|Reason: +InstancesInService' <<<"$out" || true
  grep -q 'InstancesInService' <<<"$out" || fail "describe shows no InstancesInService"

  # The optional EC2 check: do the instances' security groups admit the ELB on 8080, 8443?
  reachable='{.status.conditions[?(@.type=="BackendsReachable")]}'
  step kubectl get loadbalancer my-lb -o jsonpath="'$reachable'"
  wait_for 30 "the backend reachability check" bash -c \
    "kubectl --cache-dir '$work/kube-cache' get loadbalancer my-lb -o jsonpath='$reachable' | grep -q reason" \
    || fail "no BackendsReachable condition"
  k get loadbalancer my-lb -o jsonpath='{range .status.conditions[?(@.type=="BackendsReachable")]}  {.status} {.reason}: {.message}{"\n"}{end}'
  # The demo's security group admits the ELB on 8080 and 8443: the happy path is all True.
  k get loadbalancer my-lb -o jsonpath="$reachable" | grep -q '"status":"True"' || fail "BackendsReachable is not True on the happy path"

  # Moving a listener to a port the group does not open closes it: False, PortsClosed.
  step kubectl patch loadbalancer my-lb --type=json -p '[{"op":"replace","path":"/spec/listeners/1/instancePort","value":9443}]'
  k patch loadbalancer my-lb --type=json -p '[{"op":"replace","path":"/spec/listeners/1/instancePort","value":9443}]'
  wait_for 30 "BackendsReachable False" bash -c \
    "kubectl --cache-dir '$work/kube-cache' get loadbalancer my-lb -o jsonpath='$reachable' | grep -q PortsClosed" \
    || fail "closing port 9443 did not turn BackendsReachable False"
  k get loadbalancer my-lb -o jsonpath='{range .status.conditions[?(@.type=="BackendsReachable")]}  {.status} {.reason}: {.message}{"\n"}{end}'
  grep -q ':9443' <<<"$(k get loadbalancer my-lb -o jsonpath="$reachable")" || fail "the message does not name port 9443"
  k patch loadbalancer my-lb --type=json -p '[{"op":"replace","path":"/spec/listeners/1/instancePort","value":8443}]' >/dev/null
  wait_for 30 "BackendsReachable True again" bash -c \
    "kubectl --cache-dir '$work/kube-cache' get loadbalancer my-lb -o jsonpath='$reachable' | grep -q PortsOpen" \
    || fail "moving the listener back to 8443 did not turn BackendsReachable True"

  step kubectl patch loadbalancer my-lb --type=merge -p '{"spec":{"availabilityZones":["us-east-1a","us-east-1b","us-east-1c"]}}'
  k patch loadbalancer my-lb --type=merge -p '{"spec":{"availabilityZones":["us-east-1a","us-east-1b","us-east-1c"]}}'
  wait_for 30 "the third zone" bash -c "scripts/demo-aws elbs | grep -q 'zones=.*us-east-1c'" || fail "the zone edit did not reach the ELB"
  scripts/demo-aws elbs

  step scripts/demo-aws stop "$instance_b"
  scripts/demo-aws stop "$instance_b"
  wait_for 30 "the stopped instance's health" bash -c \
    "kubectl --cache-dir '$work/kube-cache' get loadbalancer my-lb -o jsonpath='{.status.healthy}' | grep -qx 1/2" \
    || fail "the stopped instance did not show OutOfService"
  k get loadbalancer my-lb -o jsonpath='{range .status.instances[*]}  {.instanceId}  {.state}  {.reasonCode}{"\n"}{end}'
  k get loadbalancer my-lb

  # Break glass: paused, a change waits; `plan` shows it pending, then nothing once resumed.
  step kubectl annotate loadbalancer my-lb elb.operator.dev/paused=true
  k annotate loadbalancer my-lb elb.operator.dev/paused=true
  wait_for 30 "Synced=False Paused" bash -c \
    "kubectl --cache-dir '$work/kube-cache' get loadbalancer my-lb -o jsonpath='{.status.conditions[?(@.type==\"Synced\")].reason}' | grep -qx Paused" \
    || fail "the pause annotation did not show as Synced=False Paused"
  k get loadbalancer my-lb -o jsonpath='{range .status.conditions[?(@.type=="Synced")]}  Synced {.status} {.reason}: {.message}{"\n"}{end}'
  step kubectl patch loadbalancer my-lb --type=merge -p '{"spec":{"availabilityZones":["us-east-1a","us-east-1b"]}}'
  k patch loadbalancer my-lb --type=merge -p '{"spec":{"availabilityZones":["us-east-1a","us-east-1b"]}}'
  step elb-operator plan --cluster-name demo
  code=0; "$bin/elb-operator" plan --cluster-name demo > "$work/plan.txt" || code=$?
  cat "$work/plan.txt"
  [ "$code" = 0 ] && grep -q '(on resume) DisableAvailabilityZonesForLoadBalancer' "$work/plan.txt" \
    || fail "plan did not show the paused change pending (exit $code)"
  scripts/demo-aws elbs | grep -q 'zones=.*us-east-1c' || fail "a paused LoadBalancer's change reached the ELB"
  step kubectl annotate loadbalancer my-lb elb.operator.dev/paused-
  k annotate loadbalancer my-lb elb.operator.dev/paused-
  wait_for 30 "the change applied on resume" bash -c "! scripts/demo-aws elbs | grep -q 'zones=.*us-east-1c'" \
    || fail "resuming did not apply the change"
  step elb-operator plan --cluster-name demo
  "$bin/elb-operator" plan --cluster-name demo || fail "plan still finds changes after the resume (exit $?)"
  step elb-operator migrate my-lb
  migrate_report

  step kubectl delete loadbalancer my-lb
  k delete loadbalancer my-lb --timeout=60s
  scripts/demo-aws elbs | tee "$work/elbs-after-delete.txt"
  grep -q 'no load balancers' "$work/elbs-after-delete.txt" || fail "the ELB was not deleted"
  echo
  echo "demo: the tour checks passed"
  exit 0
fi

echo "The way off Classic ELB: elb-operator migrate my-lb (manifests in $work/migrate)"
migrate_report
echo

cat <<MSG
Everything keeps running. In another shell, try the tour:

  export KUBECONFIG=$KUBECONFIG

  kubectl explain loadbalancer.spec.listeners
      every field of a listener, from the CRD's schema (the stand-in serves OpenAPI v3)
  kubectl describe loadbalancer my-lb
      conditions (Synced, Ready, BackendsResolved, BackendsReachable), the DNS name, instances and events
  kubectl patch loadbalancer my-lb --type=json -p '[{"op":"replace","path":"/spec/listeners/1/instancePort","value":9443}]'
  kubectl get loadbalancer my-lb -o jsonpath='{.status.conditions[?(@.type=="BackendsReachable")]}'
      the demo's security group opens 8080 and 8443 only: BackendsReachable turns False
      (PortsClosed, naming each instance:9443); patch the port back to 8443 and it is True again
  kubectl patch loadbalancer my-lb --type=merge -p '{"spec":{"availabilityZones":["us-east-1a","us-east-1b","us-east-1c"]}}'
  scripts/demo-aws elbs
      the ELB gains the zone (EnableAvailabilityZonesForLoadBalancer); ZONES in -o wide too
  scripts/demo-aws stop $instance_b
  kubectl get loadbalancer my-lb -w
      within a health poll (2s) HEALTHY drops to 1/2, the instance shows OutOfService;
      Ready stays True while one instance is InService (scripts/demo-aws start brings it back)
  kubectl get events --field-selector involvedObject.name=my-lb
      what the operator did, as Kubernetes events
  curl -s http://127.0.0.1:$http_port/metrics | grep '^elb_operator_elb_calls_total'
      the ELB calls it made, by action and outcome
  kubectl annotate loadbalancer my-lb elb.operator.dev/paused=true
      break glass: Synced=False Paused, no AWS write for it until the annotation is removed
  $bin/elb-operator plan --cluster-name demo
      what the operator's next sync of each LoadBalancer would do, call by call (read-only;
      exit 2 when something would change); paused ones show what resuming would do
  kubectl annotate loadbalancer my-lb elb.operator.dev/paused-
      resumes with one sync
  $bin/elb-operator migrate my-lb --cutover-plan --out-dir $work/migrate
      the steps from this Classic ELB to the AWS Load Balancer Controller's ALB and NLB
  kubectl delete loadbalancer my-lb
  scripts/demo-aws elbs
      the finalizer deletes the ELB first (deletionPolicy: Delete), then the resource goes

Logs: $work/operator.log. Press Ctrl-C to stop.
MSG
while true; do sleep 3600; done
