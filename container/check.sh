#!/usr/bin/env bash
# Builds sextant's runtime image on this machine, without any registry, and checks it.
#
#   container/check.sh            (as root; needs podman, runc, mmdebstrap and PostgreSQL 15's
#                                  server binaries; the binary target/release/sextant)
#
# 1. A Debian bookworm base image made with mmdebstrap and `podman import` (cached: made once).
# 2. The Dockerfile's `runtime` stage built on that base with the local binary
#    (--build-arg BINARY=prebuilt, BASE=<the local base>): the same Dockerfile as `docker build .`,
#    whose `build` stage (the rust image from a registry) is skipped.
# 3. Inside the image: `sextant --version` runs, every library the binary needs is there, the
#    user is not root.
# 4. A throwaway PostgreSQL cluster on the host, reachable only through a Unix socket with a
#    password; its socket folder is mounted into the container. The image's own entry point and
#    command (`sextant serve --listen 0.0.0.0:8080`) start with DATABASE_URL pointing there and
#    with the compose file's config (container/sextant.yaml) mounted; from the host, through the
#    published port: /healthz answers 200, /readyz answers 200, a GraphQL query is answered; the
#    image's HEALTHCHECK passes; `podman stop` (SIGTERM) ends the server with status 0.
# 5. `sextant demo --listen 0.0.0.0:8080` in the image, on the same database server: the example
#    organisation in the image is built into git repositories, crawled into a `sextant_demo`
#    database and served; GraphQL finds component:default/booking-service among its entities.
#
# Exits non-zero at the first failed check; prints each check as it passes.
# Settings (environment): SEXTANT_BINARY (default target/release/sextant),
# SEXTANT_CONTAINER_CACHE (default /var/tmp/sextant-container: the base tarball and build
# contexts), SEXTANT_REBUILD_BASE=1 (make the base image again), SEXTANT_PODMAN_RUNTIME (default
# runc when installed: crun refuses this machine's hybrid cgroups).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=${SEXTANT_BINARY:-$repo/target/release/sextant}
cache=${SEXTANT_CONTAINER_CACHE:-/var/tmp/sextant-container}
base_image=localhost/sextant-bookworm-base:latest
image=localhost/sextant:check
container=sextant-check-$$

step() { printf '==> %s\n' "$*"; }
pass() { printf 'ok    %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*" >&2
    exit 1
}

for tool in podman mmdebstrap curl objcopy; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (Debian: apt-get install podman runc mmdebstrap curl binutils)"
done
[[ -x $binary ]] || fail "no binary at $binary: build it first (cargo build --release --locked --bin sextant)"

# Podman as root raises the container's open-file and process limits to the maximum, which a
# process without CAP_SYS_RESOURCE (this sandbox) may not do: ask for no more than we have.
runtime=${SEXTANT_PODMAN_RUNTIME:-$(command -v runc >/dev/null && echo runc || echo crun)}
podman=(podman --runtime "$runtime")
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")

mkdir -p "$cache"
work=$(mktemp -d "$cache/check.XXXXXX")
cluster_started=""
cleanup() {
    "${podman[@]}" rm --force --time 0 "$container" >/dev/null 2>&1 || true
    if [[ -n $cluster_started ]]; then
        as_postgres "$pg_bin/pg_ctl" stop --pgdata "$work/postgres/data" --mode immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. the base image -------------------------------------------------------------------------
if [[ ${SEXTANT_REBUILD_BASE:-0} != 1 ]] && "${podman[@]}" image exists "$base_image"; then
    pass "base image $base_image (cached; SEXTANT_REBUILD_BASE=1 makes it again)"
else
    step "making the Debian bookworm base with mmdebstrap (about 30 s)"
    # Like debian:bookworm-slim: no manual pages, documentation or translations.
    mmdebstrap --variant=minbase --quiet \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$cache/base.tar"
    "${podman[@]}" import --quiet "$cache/base.tar" "$base_image" >/dev/null
    rm -f "$cache/base.tar"
    pass "base image $base_image made with mmdebstrap --variant=minbase bookworm"
fi

# --- 2. the runtime stage ----------------------------------------------------------------------
step "building the Dockerfile's runtime stage with $binary ($(date -r "$binary" '+%F %T'))"
context=$work/context
mkdir -p "$context/target/release" "$context/container"
cp "$repo/Dockerfile" "$repo/.dockerignore" "$context/"
cp "$repo/container/healthcheck" "$context/container/"
cp -r "$repo/catalog-examples" "$context/"
# Without debug information, as the Dockerfile's build stage makes it.
objcopy --strip-debug "$binary" "$context/target/release/sextant" || fail "objcopy --strip-debug $binary"
previous=$("${podman[@]}" image inspect "$image" --format '{{.Id}}' 2>/dev/null || true)
"${podman[@]}" build --quiet --isolation chroot --format docker --target runtime \
    --build-arg BINARY=prebuilt --build-arg BASE="$base_image" --tag "$image" "$context" >/dev/null ||
    fail "podman build of the runtime stage"
# The image this run replaced, with its intermediate layers, unless it is the same one.
if [[ -n $previous && $previous != $("${podman[@]}" image inspect "$image" --format '{{.Id}}') ]]; then
    "${podman[@]}" rmi "$previous" >/dev/null 2>&1 || true
fi
size=$("${podman[@]}" image inspect "$image" --format '{{.Size}}')
pass "image $image built ($((size / 1000000)) MB; the base alone: $(($("${podman[@]}" image inspect "$base_image" --format '{{.Size}}') / 1000000)) MB)"

# --- 3. inside the image -----------------------------------------------------------------------
version=$("${podman[@]}" run --rm --no-healthcheck "${limits[@]}" "$image" --version) || fail "sextant --version in the image"
[[ $version == "sextant "* ]] || fail "sextant --version printed: $version"
pass "sextant --version in the image: $version"

libraries=$("${podman[@]}" run --rm --no-healthcheck "${limits[@]}" --entrypoint ldd "$image" /usr/local/bin/sextant) ||
    fail "ldd in the image"
if grep -q "not found" <<<"$libraries"; then
    fail "libraries missing in the image: $(grep "not found" <<<"$libraries" | tr -s ' \t\n' ' ')"
fi
pass "every shared library of the binary is in the image ($(grep -c '=>' <<<"$libraries") resolved by ldd)"

"${podman[@]}" run --rm --no-healthcheck "${limits[@]}" --entrypoint test "$image" -s /etc/ssl/certs/ca-certificates.crt ||
    fail "no CA certificates in the image (/etc/ssl/certs/ca-certificates.crt)"
pass "the CA certificates for https clones are in the image"

user=$("${podman[@]}" run --rm --no-healthcheck "${limits[@]}" --entrypoint id "$image" -u) || fail "id in the image"
[[ $user != 0 ]] || fail "the image runs as root"
pass "the image runs as user $user, not root"

# --- 4. sextant serve in the image against a throwaway PostgreSQL -------------------------------
pg_bin=""
for candidate in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")" /usr/lib/postgresql/*/bin; do
    if [[ -x $candidate/initdb && -x $candidate/pg_ctl ]]; then
        pg_bin=$candidate
        break
    fi
done
[[ -n $pg_bin ]] || fail "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"
# Postgres refuses to run as root: as root, run the cluster as the postgres user.
as_postgres() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$work/postgres/socket"
printf '%s\n' "$password" >"$work/postgres/password"
chmod 0755 "$work" "$work/postgres" "$work/postgres/socket"
[[ $(id -u) != 0 ]] || chown -R postgres: "$work/postgres"
as_postgres "$pg_bin/initdb" --pgdata "$work/postgres/data" --username sextant --auth scram-sha-256 \
    --pwfile "$work/postgres/password" --encoding UTF8 --no-locale >/dev/null || fail "initdb"
# No TCP at all: only the socket, and a password on it.
as_postgres "$pg_bin/pg_ctl" start --pgdata "$work/postgres/data" --wait --log "$work/postgres/log" \
    --options "-c listen_addresses='' -c unix_socket_directories='$work/postgres/socket'" >/dev/null ||
    fail "PostgreSQL did not start: $(tail -5 "$work/postgres/log")"
cluster_started=yes
psql=$pg_bin/psql
[[ -x $psql ]] || psql=psql
PGPASSWORD=$password "$psql" --host "$work/postgres/socket" --username sextant --dbname postgres --quiet \
    --command 'CREATE DATABASE sextant' || fail "CREATE DATABASE sextant"
pass "throwaway PostgreSQL ($("$pg_bin/postgres" --version)) on a Unix socket with a password"

token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
database_url="postgres://sextant:$password@localhost/sextant?host=/run/postgresql"
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Starts the image as container $container with its port 8080 published on $port, the cluster's
# socket and the compose file's config mounted; the arguments, if any, replace the image's command.
start_container() {
    port=$(free_port)
    "${podman[@]}" run --detach --name "$container" "${limits[@]}" \
        --publish "127.0.0.1:$port:8080" \
        --volume "$work/postgres/socket:/run/postgresql" \
        --volume "$repo/container/sextant.yaml:/etc/sextant/sextant.yaml:ro" \
        --env SEXTANT_CONFIG=/etc/sextant/sextant.yaml \
        --env "DATABASE_URL=$database_url" \
        --env "SEXTANT_TOKEN=$token" \
        "$image" "$@" >/dev/null 2>"$work/podman-run.err" ||
        fail "podman run: $(cat "$work/podman-run.err")"
    # (Podman's complaint that it cannot add systemd timers for the health check is expected
    # here: the check is run by hand.)
}
server_log() { "${podman[@]}" logs "$container" 2>&1 | tail -20; }
# Waits up to $1 seconds for GET $2 to answer 200 while the container runs.
wait_for_200() {
    local status=""
    for _ in $(seq 1 $(($1 * 2))); do
        status=$(curl --silent --max-time 5 --output "$work/answer" --write-out '%{http_code}' "http://127.0.0.1:$port$2" || true)
        [[ $status == 200 ]] && return 0
        [[ $("${podman[@]}" inspect "$container" --format '{{.State.Running}}') == true ]] ||
            fail "the container stopped before GET $2 answered 200:"$'\n'"$(server_log)"
        sleep 0.5
    done
    fail "GET $2 through the published port answered '$status' after $1 s: $(cat "$work/answer" 2>/dev/null)"$'\n'"$(server_log)"
}
graphql() {
    curl --silent --max-time 10 --header 'Content-Type: application/json' --data "$1" "http://127.0.0.1:$port/graphql" ||
        fail "POST /graphql $1"
}
stop_container() {
    "${podman[@]}" stop --time 20 "$container" >/dev/null 2>&1 || fail "podman stop"
    local exit_code
    exit_code=$("${podman[@]}" inspect "$container" --format '{{.State.ExitCode}}')
    [[ $exit_code == 0 ]] || fail "after SIGTERM the container exited with $exit_code:"$'\n'"$(server_log)"
    "${podman[@]}" rm "$container" >/dev/null 2>&1 || true
}

start_container
pass "started the image's default command: $("${podman[@]}" image inspect "$image" --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')"
wait_for_200 60 /healthz
pass "GET http://127.0.0.1:$port/healthz (published from the container's 0.0.0.0:8080) answers 200"
wait_for_200 30 /readyz
pass "GET /readyz answers 200: the database is reached through the mounted socket and migrated"
answer=$(graphql '{"query":"{ __typename }"}')
[[ $answer == *'"__typename"'* && $answer != *'"errors"'* ]] || fail "POST /graphql { __typename } answered: $answer"
pass "POST /graphql answers: $answer"
"${podman[@]}" healthcheck run "$container" >/dev/null 2>&1 || fail "the image's HEALTHCHECK (sextant-healthcheck) failed"
pass "the image's HEALTHCHECK passes inside the container"
stop_container
pass "SIGTERM (podman stop) ends the server with status 0"

# --- 5. the demo in the image: the example organisation, git2 and a crawl ---------------------
start_container demo --listen 0.0.0.0:8080
wait_for_200 180 /healthz
answer=$(graphql '{"query":"{ entity(ref: \"booking-service\") { ref } entities { totalCount } }"}')
[[ $answer == *'"ref":"component:default/booking-service"'* && $answer != *'"errors"'* ]] ||
    fail "the demo's catalog does not answer for booking-service: $answer"
count=$(sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p' <<<"$answer")
[[ ${count:-0} -gt 10 ]] || fail "the demo's catalog holds ${count:-no} entities: $answer"
pass "sextant demo in the image: the example organisation built into git repositories, crawled ($count entities) and served"
stop_container
pass "SIGTERM ends the demo with status 0"

printf 'all container checks passed\n'
