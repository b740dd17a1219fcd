# syntax=docker/dockerfile:1
# The tradeoff image for Kubernetes fleet runs (deploy/k8s/job.yaml): the binary, the Vulkan
# loader, Mesa's lavapipe as a software fallback (which tradeoff labels "software", and which
# --require-gpu refuses), the shipped suites and price catalog. The NVIDIA driver and its
# Vulkan ICD come from the NVIDIA container runtime at run time (NVIDIA_DRIVER_CAPABILITIES
# must include graphics), not from the image.
#
#   docker build -t tradeoff:dev --build-arg TRADEOFF_GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run --rm tradeoff:dev devices
#   docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics tradeoff:dev devices
#
# Multi-arch (Graviton nodes are arm64): docker buildx build --platform linux/amd64,linux/arm64 ...

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      g++ make pkg-config git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context (.dockerignore), so build.rs cannot ask git for the commit
# that the manifests record; pass it in.
ARG TRADEOFF_GIT_COMMIT=""
ENV TRADEOFF_GIT_COMMIT=${TRADEOFF_GIT_COMMIT}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tradeoff \
 && cp target/release/tradeoff /usr/local/bin/tradeoff

FROM debian:trixie-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates libvulkan1 mesa-vulkan-drivers \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/tradeoff /usr/local/bin/tradeoff
COPY suites/ /opt/tradeoff/suites/
COPY prices.toml /opt/tradeoff/prices.toml
WORKDIR /opt/tradeoff
# Not root: tradeoff needs no privilege. The results volume must be writable by this user
# (fsGroup in the pod's securityContext, or a volume that is world-writable).
RUN useradd --create-home --uid 10001 tradeoff
USER 10001
ENTRYPOINT ["tradeoff"]
CMD ["--help"]
