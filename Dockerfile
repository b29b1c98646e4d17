# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, ship only the binary on distroless (glibc,
# CA certificates, no shell, non-root user 65532).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace is needed to resolve it (tests/ members included); .dockerignore keeps
# build outputs and the Python venv out of the context.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin elb-operator \
    && cp target/release/elb-operator /elb-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /elb-operator /usr/local/bin/elb-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/elb-operator"]
CMD ["run"]
