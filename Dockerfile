# syntax=docker/dockerfile:1
# Build: a static binary, no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
ARG VERSION=dev
# CI runs this very command on the files COPY'd above and checks that the binary
# is static (cmd/kinesis-autoscaler/deploy_test.go), as there is no Docker
# engine there.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kinesis-autoscaler ./cmd/kinesis-autoscaler

# Run: distroless static image, non-root user 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kinesis-autoscaler /usr/local/bin/kinesis-autoscaler
# Manages every stream tagged autoscale=enabled; the environment sets the rest
# (see config/container.yaml). Derive your own image with your config at this
# path, or mount one there, to list streams.
COPY config/container.yaml /etc/kinesis-autoscaler/config.yaml
EXPOSE 9090
USER 65532:65532
# A soft limit on the Go runtime's memory: the garbage collector works harder
# before the process grows past it. 10,000 streams stay under 200 MB with it
# (docs/benchmarks.md, Scale); raise it with the task's memory for more.
ENV GOMEMLIMIT=150MiB
ENTRYPOINT ["/usr/local/bin/kinesis-autoscaler"]
CMD ["run", "--config", "/etc/kinesis-autoscaler/config.yaml"]
