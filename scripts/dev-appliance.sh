# Sourced by scripts/bench, scripts/chaos and scripts/soak: builds a release
# tree and starts a fresh development appliance (SoftHSM2 token, key
# ceremony, mpayd with signer, gateway and acquirer simulator) configured for
# a load test. Sets: build, home, config, port, mpayd (its pid), socket (the
# signer's), db_url (the gateway's database), gateway_user; stops it on exit.
#   MPAY_PORT          gateway port (default 28443; the next two are taken as well)
#   MPAY_BENCH_DB_URL  a postgresql:// URL of an empty database to use instead of SQLite

./scripts/install-deps >&2
if [ "$(id -u)" = 0 ]; then ./scripts/create-users >&2; fi
build=build-bench
home=/var/tmp/mpay-bench
# As root the service users run the binaries: build where they can reach them.
if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$PWD"; then build=/var/tmp/mpay-build-bench; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPAY_TESTS=OFF >&2
cmake --build "$build" >&2

port="${MPAY_PORT:-28443}"
rm -rf "$home"
config=$("$build"/bin/mpay-admin dev-setup --dir "$home" --port "$port")
# A load test from one address with a few phones: the gateway's per-phone and
# per-address limits and the signer's budgets (policy/signer.ops, 100/s and a
# few a minute per user) would measure themselves, not the appliance. Raised
# here only; the shipped files keep theirs. The gateway keeps its default of
# one signer connection per signer thread (workers = cores, 4 threads each).
sed -i "/^\[gateway\]\$/a rate_per_phone = 1000000\nrate_per_source = 1000000\nmax_connections_per_source = 0\nmax_threads = 32" "$config"
sed -i 's|rate=[0-9]*/s|rate=1000000/s|; s|per_user=[0-9]*/min|per_user=100000000/min|' "$home/policy/signer.ops"
if [ -n "${MPAY_BENCH_DB_URL:-}" ]; then
  sed -i "s|^db_url = .*|db_url = $MPAY_BENCH_DB_URL|" "$config"
fi

socket=$(sed -n 's/^socket = //p' "$config")
db_url=$(sed -n 's/^db_url = //p' "$config")
gateway_user=$(sed -n '/^\[gateway\]/,/^\[/s/^user = //p' "$config")
"$build"/bin/mpayd --config "$config" >>"$home/mpayd.log" 2>&1 &
mpayd=$!
trap 'kill $mpayd 2>/dev/null; wait $mpayd 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
