# Minimal image of the sextant binary. Today it validates descriptors; the server arrives later.
#   docker build -t sextant .
#   docker run --rm -v "$PWD:/work" -w /work sextant validate --format github
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sextant

FROM debian:bookworm-slim
COPY --from=build /src/target/release/sextant /usr/local/bin/sextant
COPY --from=build /src/catalog-examples /usr/share/sextant/catalog-examples
ENTRYPOINT ["sextant"]
CMD ["demo", "--examples", "/usr/share/sextant/catalog-examples"]
