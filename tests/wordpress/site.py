"""A throwaway WordPress from Debian's package: MariaDB database, PHP's built-in server.

WP-CLI is not packaged for Debian 12 and nothing may be downloaded, so the site is installed
by `wp_helper.php` (wp_install() from the command line) and served by `php -S` on a free
loopback port. Each site gets its own copy of /usr/share/wordpress (the Debian
`wp-config.php` looks in /etc/wordpress, which tests must not touch) and its own database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests

WORDPRESS_DIR = Path("/usr/share/wordpress")
HERE = Path(__file__).resolve().parent
PLUGIN_DIR = HERE.parents[1] / "integrations" / "wordpress" / "modassist"
HELPER = HERE / "wp_helper.php"
MARIADB = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
ADMIN_PASSWORD = "admin-password-for-tests"
#: The URL of the plugin's decision route when permalinks are off (the default).
#: While this file exists in the WordPress folder, page loads spawn WP-Cron themselves.
WP_CRON_FLAG = ".wp-cron-on"
CALLBACK_PATH = "/index.php?rest_route=/modassist/v1/decision"


def missing_requirements() -> str | None:
    """Return why no WordPress can be run here, or None when everything is installed."""
    if not (WORDPRESS_DIR / "wp-load.php").exists():
        return (
            "Debian's wordpress package is not installed (scripts/ensure-services.sh installs it)"
        )
    if shutil.which("php") is None:
        return "php-cli is not installed"
    if shutil.which("mariadb") is None:
        return "the mariadb client is not installed"
    found = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False).stdout
    if "mysqli" not in found:
        return "php-mysql is not installed"
    probe = subprocess.run([*MARIADB, "-e", "SELECT 1"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "MariaDB does not answer on 127.0.0.1:3306 as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WordPressSite:
    """One installed WordPress with the modassist plugin, served on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.root = workdir / "wordpress"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"modassist_wp_{uuid.uuid4().hex[:10]}"
        self.server: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "php-server.log"

    @property
    def callback_url(self) -> str:
        return self.url + CALLBACK_PATH

    def create(self) -> None:
        """Copy WordPress, create the database, install WordPress and put the plugin in place."""
        shutil.copytree(WORDPRESS_DIR, self.root, symlinks=True)
        (self.root / "wp-config.php").unlink()
        content = self.root / "wp-content"
        shutil.copytree(PLUGIN_DIR, content / "plugins" / "modassist")
        shutil.copytree(HERE / "theme", content / "themes" / "modassist-test")
        shutil.copytree(HERE / "mu-plugins", content / "mu-plugins")
        (content / "uploads").mkdir(exist_ok=True)
        self._write_config()
        self._sql(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        self.helper("install", url=self.url, password=ADMIN_PASSWORD)

    def _write_config(self) -> None:
        keys = "\n".join(
            f"define( '{name}', '{secrets.token_hex(32)}' );"
            for name in (
                "AUTH_KEY",
                "SECURE_AUTH_KEY",
                "LOGGED_IN_KEY",
                "NONCE_KEY",
                "AUTH_SALT",
                "SECURE_AUTH_SALT",
                "LOGGED_IN_SALT",
                "NONCE_SALT",
            )
        )
        (self.root / "wp-config.php").write_text(
            f"""<?php
define( 'DB_NAME', '{self.database}' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', '127.0.0.1:3306' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{keys}
$table_prefix = 'wp_';
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_DISPLAY', false );
define( 'WP_DEBUG_LOG', '{self.workdir / "debug.log"}' );
// Cron runs when the tests request wp-cron.php, as with a system cron job, unless a test
// switches WordPress's own cron (spawned by page loads) on with the flag file.
if ( ! defined( 'DISABLE_WP_CRON' ) ) {{
	define( 'DISABLE_WP_CRON', ! file_exists( __DIR__ . '/{WP_CRON_FLAG}' ) );
}}
define( 'AUTOMATIC_UPDATER_DISABLED', true );
// Only loopback: no update checks against wordpress.org from the test machine.
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'MODASSIST_RETRY_INTERVAL', 1 );
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""
        )

    def configure(self, service_url: str, key_id: str, secret: str) -> None:
        """Activate the plugin and point it at a modassist service."""
        answer = self.helper(
            "configure",
            settings={
                "service_url": service_url,
                "key_id": key_id,
                "secret": secret,
                "rejected_action": "spam",
                "send_articles": True,
            },
        )
        assert answer["active"] is True

    def start(self) -> None:
        """Serve the site with PHP's built-in server (two workers: callbacks may overlap)."""
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "2"}
        log = self.log_path.open("ab")
        self.server = subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.root)],
            cwd=self.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.server.poll() is not None:
                    raise RuntimeError("php -S exited; see " + str(self.log_path)) from None
                time.sleep(0.05)
        raise RuntimeError("php -S did not start")

    def stop(self) -> None:
        """Stop the PHP server and its worker processes (they share its process group)."""
        if self.server is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(10)
        self.server = None

    def destroy(self) -> None:
        """Stop serving and drop the database; the copied files go with the tmp dir."""
        self.stop()
        self._sql(f"DROP DATABASE IF EXISTS `{self.database}`")

    def _sql(self, statement: str) -> None:
        subprocess.run([*MARIADB, "-e", statement], check=True, capture_output=True)

    def helper(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Run one wp_helper.php command and return its JSON answer."""
        arguments.setdefault("url", self.url)
        done = subprocess.run(
            ["php", str(HELPER), str(self.root), command, json.dumps(arguments)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"wp_helper {command} failed: {done.stderr.strip()[-2000:]}")
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    def wordpress_cron(self, on: bool) -> None:
        """Switch WordPress's own cron (a background request spawned by page loads) on or off."""
        flag = self.root / WP_CRON_FLAG
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def run_cron(self) -> None:
        """Run the due WP-Cron events, as a system cron job requesting wp-cron.php does."""
        response = requests.get(self.url + "/wp-cron.php", timeout=60)
        response.raise_for_status()

    def post_comment(self, post_id: int, text: str, author: str, email: str) -> int:
        """Post a comment through wp-comments-post.php as a reader's browser does; return its id."""
        response = requests.post(
            self.url + "/wp-comments-post.php",
            data={
                "comment_post_ID": str(post_id),
                "comment": text,
                "author": author,
                "email": email,
                "url": "",
                "comment_parent": "0",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text[:500]
        found = re.search(r"#comment-(\d+)$", response.headers["Location"])
        assert found, response.headers["Location"]
        return int(found.group(1))

    def admin_session(self) -> requests.Session:
        """Log in to wp-admin as the administrator, as a browser does; return the session."""
        session = requests.Session()
        session.get(self.url + "/wp-login.php", timeout=30)  # sets WordPress's test cookie
        response = session.post(
            self.url + "/wp-login.php",
            data={"log": "admin", "pwd": ADMIN_PASSWORD, "testcookie": "1", "wp-submit": "Log In"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, "login failed"
        return session

    def comment(self, comment_id: int) -> dict[str, Any]:
        return self.helper("comment", id=comment_id)
