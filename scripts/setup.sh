#!/usr/bin/env bash
# Idempotent setup: pinned JupyterHub releases in virtualenvs and
# configurable-http-proxy from npm, all inside the repository (.hubcap/, ignored by git).
# Usage: scripts/setup.sh [RELEASE ...]   (default: 5.3.0 5.5.1 6.1.1 4.1.6)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.hubcap"
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(5.3.0 5.5.1 6.1.1 4.1.6)

# Pins beside jupyterhub: the single-user path and a SQLAlchemy that the release supports.
JUPYTER_SERVER_PIN="jupyter_server==2.17.0"
IPYKERNEL_PIN="ipykernel==6.29.5"
# SQLAlchemy of the 5.3 era (5.3.0 shipped April 2025; 2.0.40 is from March 2025).
SQLALCHEMY_PIN="sqlalchemy==2.0.40"
# JupyterLab for the real single-user path (/user/…/lab answers 404 without it).
JUPYTERLAB_PIN="jupyterlab==4.4.10"  # the newest 4.4.x; 4.5+ needs jupyter_server>=2.19
# The PostgreSQL driver, so a hub of each release can run on PostgreSQL.
PSYCOPG_PIN="psycopg2-binary==2.9.13"
CHP_PIN="configurable-http-proxy@4.6.3"
# ECharts is inlined into reports so they work offline.
ECHARTS_PIN="echarts@5.6.0"

need() { command -v "$1" >/dev/null 2>&1 || { echo "hubcap setup: '$1' not found: $2" >&2; exit 3; }; }
need python3 "install Python 3.9+ (Debian: apt-get install python3 python3-venv)"
need npm "install Node.js and npm (Debian: apt-get install nodejs npm)"
mkdir -p "$dest/venvs"

for rel in "${releases[@]}"; do
  venv="$dest/venvs/jupyterhub-$rel"
  stamp="jupyterhub==$rel $JUPYTER_SERVER_PIN $IPYKERNEL_PIN $SQLALCHEMY_PIN $JUPYTERLAB_PIN $PSYCOPG_PIN"
  if [ -x "$venv/bin/jupyterhub" ] && [ -f "$venv/.hubcap-ok" ] && [ "$(cat "$venv/.hubcap-ok")" = "$stamp" ]; then
    echo "hubcap setup: jupyterhub $rel already installed in $venv"
    continue
  fi
  echo "hubcap setup: installing jupyterhub==$rel into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "jupyterhub==$rel" "$JUPYTER_SERVER_PIN" "$IPYKERNEL_PIN" "$SQLALCHEMY_PIN" "$JUPYTERLAB_PIN" "$PSYCOPG_PIN"
  "$venv/bin/python" -m ipykernel install --prefix "$venv" >/dev/null
  "$venv/bin/jupyterhub" --version >/dev/null
  echo "$stamp" > "$venv/.hubcap-ok"
done

chp="$dest/node/node_modules/.bin/configurable-http-proxy"
echarts="$dest/node/node_modules/echarts/dist/echarts.min.js"
npm_stamp="$CHP_PIN $ECHARTS_PIN"
if [ -x "$chp" ] && [ -f "$echarts" ] && [ "$(cat "$dest/node/.hubcap-ok" 2>/dev/null)" = "$npm_stamp" ]; then
  echo "hubcap setup: configurable-http-proxy and echarts already installed"
else
  echo "hubcap setup: installing $CHP_PIN $ECHARTS_PIN"
  mkdir -p "$dest/node"
  (cd "$dest/node" && npm install --silent --no-audit --no-fund --prefix . "$CHP_PIN" "$ECHARTS_PIN" >/dev/null)
  "$chp" --version >/dev/null
  [ -f "$echarts" ]
  echo "$npm_stamp" > "$dest/node/.hubcap-ok"
fi

# Headless Chromium for the report's browser test (tests only; Debian package).
if [ "${HUBCAP_SETUP_BROWSER:-0}" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "hubcap setup: installing Debian's chromium for the report browser test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "hubcap setup: chromium is missing and cannot be installed here (needs root and apt-get); the browser test will fail" >&2
  fi
fi
# PostgreSQL server binaries for the tests' throwaway clusters (tests only;
# Debian package; the tests run initdb/pg_ctl as the postgres user it creates).
if [ "${HUBCAP_SETUP_POSTGRES:-0}" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "hubcap setup: installing Debian's postgresql for the tests on PostgreSQL"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "hubcap setup: PostgreSQL is missing and cannot be installed here (needs root and apt-get); the PostgreSQL tests will fail" >&2
  fi
fi
# Prometheus for the remote-write output's test (tests only; Debian package,
# started by the test on loopback with --web.enable-remote-write-receiver).
if [ "${HUBCAP_SETUP_PROMETHEUS:-0}" = 1 ] && ! command -v prometheus >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "hubcap setup: installing Debian's prometheus for the remote-write test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # the package starts a system service; the test runs its own on loopback
    (systemctl stop prometheus || service prometheus stop || pkill -x prometheus) >/dev/null 2>&1 || true
  else
    echo "hubcap setup: prometheus is missing and cannot be installed here (needs root and apt-get); the remote-write test will fail" >&2
  fi
fi
echo "hubcap setup: done ($dest)"
