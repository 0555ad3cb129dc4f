# dock as an image that holds nothing but the static binary: /dock. It is meant to be copied into
# other images (see README, "Using dock with Docker, Podman and Kubernetes"). This file builds dock
# inside a Rust image, so it needs a registry for rust:1-bookworm; `make image` makes the same image
# (FROM scratch, /dock, ENTRYPOINT ["/dock"]) from the static binary `make static` built on this
# machine, pulling nothing.
#
#   docker build -t dock .                                  # TLS on (rustls + webpki roots)
#   docker build -t dock:notls --build-arg FEATURES=--no-default-features .
#   docker build -t dock:stable --build-arg STD=stable .    # stable's std: bigger, over the size budgets
#
# By default std is rebuilt with dock on a pinned nightly (`make static`'s STATIC_STD=nightly: panics
# abort silently, no backtrace printer): the build the size budgets are checked on. NIGHTLY is the
# toolchain docs/shipping.md's sizes were measured with (rustc 1.97.0-nightly of 2026-05-19); a newer one
# should work too (--build-arg NIGHTLY=nightly), its sizes may differ by a few kB.
#
#   FROM debian:bookworm-slim
#   COPY --from=dock /dock /dock
#   ENTRYPOINT ["/dock", "--"]
#   CMD ["my-server", "--port", "8080"]

# ---- build: a static musl binary (ring compiles C, hence musl-tools).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
ARG FEATURES=
ARG STD=nightly
ARG NIGHTLY=nightly-2026-05-20
RUN if [ "$STD" = nightly ]; then \
      rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src \
        --target x86_64-unknown-linux-musl; \
    fi
WORKDIR /src
COPY . .
# The same build as `make static` (release profile from Cargo.toml, rustflags from .cargo/config.toml).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    make static-one STATIC_STD="$STD" NIGHTLY="$NIGHTLY" STATIC_FEATURES="--locked $FEATURES" STATIC_ONE=/dock

# ---- the image: only /dock. No shell, no libc: dock needs neither.
FROM scratch
COPY --from=build /dock /dock
ENTRYPOINT ["/dock"]
