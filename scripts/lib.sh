# Sourced by the scripts (from the repository root): where the one shared build puts its
# binaries, and how containers are run.
#
# .cargo/config.toml builds everything (tests, demo, image) for one explicit target with
# crt-static, so binaries live in target/<triple>/<profile>/, not target/<profile>/.
TARGET_TRIPLE=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}

# The folder holding the binaries of a profile (debug, release).
bin_dir() {
  local dir
  dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  echo "$dir/$TARGET_TRIPLE/${1:-debug}"
}

# The package version (the image tag of a release, the chart's appVersion).
crate_version() {
  cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="elb-operator"))'
}

# podman (default) or docker; the project's podman settings unless the caller has its own.
ENGINE=${CONTAINER_ENGINE:-podman}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
IMAGE_NAME=${IMAGE_NAME:-localhost/elb-operator:dev}

# Builds the binaries exactly as `cargo test --workspace` does. A plain `cargo build --bin`
# resolves features without the dev-dependencies (tokio's test-util, ...) and so compiles many
# crates a second time; this way the tests, the demo and the image share one build.
build_shared() {
  local log
  log=$(mktemp)
  if ! cargo test --workspace --no-run -q 2>"$log"; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
