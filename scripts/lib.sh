# Shared set-up for scripts/test and scripts/demo.

ensure_venv() {
  local extra="${1:-}"
  local stamp=".venv/.installed${extra:+-$extra}"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # Reinstall only when the requirements or the lock changed since the last install. The lock
  # (scripts/lock) fixes every version within pyproject.toml's ranges, so each install is the same.
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
    echo "== installing Python packages into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock \
      -e ".${extra:+[$extra]}"
    touch "$stamp"
  fi
}

# Starts the machine's PostgreSQL (installed, not running, on our machines and CI) and exports
# PASSBRIDGE_TEST_PG_URL. Without PostgreSQL the PostgreSQL half of the suite skips, saying why;
# in CI its absence is an error.
start_postgres_for_tests() {
  if [ -n "${PASSBRIDGE_TEST_PG_URL:-}" ]; then return; fi
  if ! command -v pg_lsclusters >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = "true" ]; then echo "CI needs PostgreSQL (pg_lsclusters, as root)" >&2; exit 1; fi
    echo "== PostgreSQL not available here: its tests will skip"; return
  fi
  local version cluster port status
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
  if [ "$status" != "online" ]; then
    echo "== starting PostgreSQL $version/$cluster"
    pg_ctlcluster "$version" "$cluster" start
  fi
  local password="passbridge-test-pw"
  su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'passbridge_test') THEN
    CREATE ROLE passbridge_test LOGIN PASSWORD '$password';
  END IF;
END \$\$;
SQL
  if ! su postgres -c "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='passbridge_test'\"" | grep -q 1; then
    su postgres -c "createdb -p $port -O passbridge_test passbridge_test"
  fi
  export PASSBRIDGE_TEST_PG_URL="postgresql+psycopg://passbridge_test:$password@127.0.0.1:$port/passbridge_test"
  echo "== PostgreSQL ready on port $port"
}

# The browser tests drive Debian's Chromium. Installs it when missing (a fresh CI machine has none);
# where it cannot be installed the browser tests fail, naming what is missing.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then echo "CI needs Chromium (apt-get, as root)" >&2; exit 1; fi
    echo "== Chromium missing and not installable here: the browser tests will fail" >&2; return
  fi
  echo "== installing Chromium for the browser tests"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

# The two-node test puts a real nginx in front of two servers (tests/multi/test_two_nodes.py, the
# deployment docs' config). Installs it when missing, as Chromium above; the test runs its own nginx in the
# foreground on a free port, so the package's service is neither needed nor started here.
ensure_nginx() {
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then echo "CI needs nginx (apt-get, as root)" >&2; exit 1; fi
    echo "== nginx missing and not installable here: the two-node test will fail" >&2; return
  fi
  echo "== installing nginx for the two-node test"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
}
