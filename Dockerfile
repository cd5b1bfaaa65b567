# One small image with every pipeline step and the tracking server: static Go
# binaries (CGO_ENABLED=0) on distroless's static base, which has CA certificates
# and a non-root user and no shell. `make image` builds the same layout as a
# tarball without Docker (cmd/image).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN mkdir -p /out && go build -trimpath -ldflags="-s -w" -o /out/ \
      ./steps/ingest ./steps/train ./steps/compare ./steps/register ./steps/predict \
      ./cmd/tracking-server ./cmd/pipeline

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
WORKDIR /data
USER 65532:65532
ENV PATH=/usr/local/bin
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/tracking-server"]
CMD ["--host", "0.0.0.0", "--port", "5000"]
