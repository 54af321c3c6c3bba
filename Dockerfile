# strata's own image, built by strata itself: `make image` (scripts/mkimage.sh
# makes the context and the two base images, see there).
#
#   docker run --rm -v "$PWD:/workspace" strata:dev build -t app .
#
# In a container with docker's defaults strata chooses chroot isolation and
# the native snapshotter on its own (docs/unprivileged.md).
#
# STRATA_FROM=prebuilt takes a static strata from the context (./strata,
# CGO_ENABLED=0) instead of compiling it in the build stage: the e2e test
# does so, to spend its time on what the image does rather than on a
# second compile of strata.
ARG GO_IMAGE=strata-base/go:local
ARG BASE_IMAGE=strata-base/busybox:local
ARG STRATA_FROM=build

FROM ${GO_IMAGE} AS build
ENV PATH=/usr/local/go/bin:/usr/bin:/bin CGO_ENABLED=0 GOFLAGS="-mod=vendor -buildvcs=false" \
    GOCACHE=/root/.cache/go-build HOME=/root
WORKDIR /src
COPY . .
RUN go build -trimpath -ldflags=-s -o /out/strata ./cmd/strata && /out/strata --version

FROM ${BASE_IMAGE} AS prebuilt
COPY strata /out/strata

FROM ${STRATA_FROM} AS strata-bin

FROM ${BASE_IMAGE}
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=strata-bin /out/strata /usr/local/bin/strata
ENV STRATA_ROOT=/var/lib/strata
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/strata"]
CMD ["--help"]
