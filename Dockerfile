# syntax=docker/dockerfile:1
# Multi-architecture image of kinesis-autoscaler (linux/amd64 and linux/arm64
# for Graviton): docker buildx build --platform linux/amd64,linux/arm64 ...
# (docs/operations.md, "Building the image and pushing it to ECR").
#
# Base images are pinned by digest, with the tag beside it for people. There
# is no registry access where this file was written: the digests are the ones
# public Dockerfiles pin for these tags (golang:1.26-bookworm as a manifest
# list; distroless static-debian12:nonroot), not checked against the registry
# here. Before a release, confirm each is the multi-architecture index of its
# tag with `docker buildx imagetools inspect IMAGE:TAG` and update both.

# Build: a static binary, no cgo, cross-compiled on the build machine's own
# platform for the target's architecture.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
ARG VERSION=dev
ARG REVISION=unknown
ARG TARGETOS
ARG TARGETARCH
# CI runs this very command on the files COPY'd above and checks that the binary
# is static (cmd/kinesis-autoscaler/deploy_test.go), as there is no Docker
# engine there.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/kinesis-autoscaler ./cmd/kinesis-autoscaler

# Run: distroless static image, non-root user 65532.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kinesis-autoscaler" \
      org.opencontainers.image.description="Keeps AWS Kinesis Data Streams right-sized: reads CloudWatch, reshards, alerts over SNS" \
      org.opencontainers.image.source="https://github.com/kinesis-autoscaler/kinesis-autoscaler" \
      org.opencontainers.image.url="https://github.com/kinesis-autoscaler/kinesis-autoscaler" \
      org.opencontainers.image.documentation="https://github.com/kinesis-autoscaler/kinesis-autoscaler/blob/main/docs/operations.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/kinesis-autoscaler /usr/local/bin/kinesis-autoscaler
# Manages every stream tagged autoscale=enabled; the environment sets the rest
# (see config/container.yaml). Derive your own image with your config at this
# path, or mount one there, to list streams.
COPY config/container.yaml /etc/kinesis-autoscaler/config.yaml
EXPOSE 9090
USER 65532:65532
# A soft limit on the Go runtime's memory: the garbage collector works harder
# before the process grows past it. 10,000 streams stay near 312 MB resident
# with it, inside a 512 MB task (docs/benchmarks.md, Scale); raise it with the
# task's memory for more.
ENV GOMEMLIMIT=300MiB
# The image has no shell or curl: the binary asks its own /healthz
# (metrics.listen is 0.0.0.0:9090 in config/container.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/kinesis-autoscaler", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/usr/local/bin/kinesis-autoscaler"]
CMD ["run", "--config", "/etc/kinesis-autoscaler/config.yaml"]
