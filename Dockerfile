# The operator's container image: one static binary FROM scratch, with a CA bundle for the
# AWS endpoints, no shell, running as the non-root user 65532.
#
# The binary is built outside the image (the same static build the tests and the demo use:
# glibc linked in with crt-static, see .cargo/config.toml), so this file needs no base image
# to pull and builds the same way with podman here and with docker buildx in CI. The build
# context is laid out by scripts/image.sh (`make image`) or by the release workflow:
#   <context>/<TARGETARCH>/elb-operator    the binary for each platform (amd64, arm64)
#   <context>/ca-certificates.crt          the CA bundle (Debian's ca-certificates)
#   <context>/passwd, <context>/group      the nonroot user, for tools that look names up
FROM scratch

ARG TARGETARCH=amd64
ARG VERSION=dev

LABEL org.opencontainers.image.title="elb-operator" \
      org.opencontainers.image.description="Declarative AWS Classic Elastic Load Balancers for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY ${TARGETARCH}/elb-operator /usr/local/bin/elb-operator

ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/home/nonroot

USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/elb-operator"]
CMD ["run"]
