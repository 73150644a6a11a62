# The analytics host, built from source in a Rust image and run from a slim Debian one.
# The release profile ships no debug info (a 58 MB binary; see README, Development).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY host ./host
COPY wit ./wit
RUN cargo build --release --locked -p livekit-analytics-host

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/analytics-host /usr/local/bin/analytics-host
WORKDIR /data
EXPOSE 7890 7891 7892
ENTRYPOINT ["analytics-host"]
CMD ["run", "--config", "/etc/analytics-host/config.yaml"]
