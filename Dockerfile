# syntax=docker/dockerfile:1
# Build: a static binary, no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
ARG VERSION=dev
# The same command `make build` runs (CI checks it, as there is no Docker engine there).
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kinesis-autoscaler ./cmd/kinesis-autoscaler

# Run: distroless static image, non-root user 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kinesis-autoscaler /usr/local/bin/kinesis-autoscaler
# A placeholder: derive your own image with your config at this path, or mount one there.
COPY config/example.yaml /etc/kinesis-autoscaler/config.yaml
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kinesis-autoscaler"]
CMD ["run", "--config", "/etc/kinesis-autoscaler/config.yaml"]
