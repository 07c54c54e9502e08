# The sextant binary in a slim image, with PostgreSQL's server binaries so that the embedded
# default database works when DATABASE_URL is not set.
#   docker build -t sextant .
#   docker run --rm sextant                                      # the demo
#   docker run --rm -v "$PWD:/work" -w /work sextant validate --format github
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sextant

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql ca-certificates libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sextant /usr/local/bin/sextant
COPY --from=build /src/catalog-examples /usr/share/sextant/catalog-examples
ENTRYPOINT ["sextant"]
CMD ["demo", "--examples", "/usr/share/sextant/catalog-examples"]
