# ferry in a container: the production binary `ferry` on a slim Debian, running as a non-root
# user, with the static site inside and the JSON store folder as a volume.
#
# Size target: under 100 MB for the final image (debian:bookworm-slim is about 75 MB; the
# stripped binary adds about 5 MB, 4.7 MB measured, and the static folder a few KB: about 80 MB).
# The build stage is discarded.
#
#   docker build -t ferry .
#   docker run -p 3000:3000 -v ferry-storage:/app/storage ferry          # ferry serve
#   docker compose up                                                    # web, socket, MongoDB

# --- build: the same `cargo build --release` the README documents, with the locked lock file.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ferry \
    && strip target/release/ferry \
    && cp target/release/ferry /usr/local/bin/ferry

# --- run: glibc matches the build stage's; the driver brings its own TLS roots (no CA bundle).
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 ferry \
    && useradd --system --uid 10001 --gid ferry --home-dir /app --shell /usr/sbin/nologin ferry \
    && mkdir -p /app/storage \
    && chown ferry:ferry /app/storage
COPY --from=build /usr/local/bin/ferry /usr/local/bin/ferry
COPY static /app/static
WORKDIR /app
# Numeric, so the host and orchestrators see the same user the image created.
USER 10001:10001
# `--store storage/data.json` (the default) lands here; keep it outside the container.
VOLUME ["/app/storage"]
# Web app (HTTP), socket server (UDP by default; TCP with --transport tcp).
EXPOSE 3000/tcp 5000/udp 5000/tcp
# ferry stops accepting on SIGTERM, finishes in-flight requests and stored writes, and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ferry"]
CMD ["serve"]
