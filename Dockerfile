# sextant's server image: `sextant serve` on 0.0.0.0:8080 as a non-root user, in debian:bookworm-slim.
#
#   docker build -t sextant .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://user:password@db-host/sextant sextant
#   docker compose up          # Postgres, Meilisearch and sextant together (docker-compose.yml)
#
# The image holds no PostgreSQL server (sextant's embedded default database needs one): every
# command in it uses the database that DATABASE_URL names. `sextant demo --listen 0.0.0.0:8080`
# serves the example organisation, from a second database beside it (`<name>_demo`).
#
# Two build arguments:
#   BASE    the runtime stage's base image (default debian:bookworm-slim). container/check.sh
#           passes a Debian bookworm image built locally with mmdebstrap.
#   BINARY  where the binary comes from: `build` (default) compiles it in the rust image;
#           `prebuilt` takes target/release/sextant from the build context (a binary built on
#           Debian bookworm or an older glibc), which is how container/check.sh builds the image.
# The build stage strips the binary's debug information (the release profile keeps line tables,
# which more than quadruple its size): a panic's backtrace names functions but not lines.
ARG BASE=debian:bookworm-slim
ARG BINARY=build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sextant \
    && mkdir -p /out && objcopy --strip-debug target/release/sextant /out/sextant

FROM scratch AS prebuilt
COPY target/release/sextant /out/sextant

FROM ${BINARY} AS binary

FROM ${BASE} AS runtime
# What the binary links to dynamically (`ldd sextant`): libssl3 and libcrypto (libssl3), zlib,
# libgcc_s, libm and libc (the last three are in every Debian base). libgit2 and libssh2 are
# linked in statically; ca-certificates lets https clones verify their servers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && groupadd --gid 10001 sextant \
    && useradd --uid 10001 --gid sextant --no-log-init --home-dir /var/lib/sextant --create-home --shell /usr/sbin/nologin sextant
COPY --from=binary /out/sextant /usr/local/bin/sextant
COPY container/healthcheck /usr/local/bin/sextant-healthcheck
COPY catalog-examples /usr/share/sextant/catalog-examples
# Git mirrors and other state go under the data folder; mount a volume there to keep them.
ENV SEXTANT_DATA_DIR=/var/lib/sextant \
    SEXTANT_EXAMPLES=/usr/share/sextant/catalog-examples
USER sextant:sextant
WORKDIR /var/lib/sextant
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["sextant-healthcheck"]
ENTRYPOINT ["sextant"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
