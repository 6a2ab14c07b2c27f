"""Print what the WordPress plugin costs a reader and a cron run when modassist is unwell.

Run: .venv/bin/python bench/bench_wordpress.py [COUNT]   (default 20 comments per case)
Needs Debian's WordPress, PHP and MariaDB (scripts/ensure-services.sh). For each case, a
reader posts COUNT comments through wp-comments-post.php (time per post), then one
wp-cron.php run tries to send all of them (time for the run). Cases: the plugin without a
service URL (WordPress's own cost), modassist down (connection refused) and modassist
hanging (accepts the connection, never answers; the plugin's HTTP timeout is 5 s). The
plugin sends from WP-Cron only and gives up on the rest of a run after the first send
without an answer, so neither figure grows with the outage.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.wordpress.site import WordPressSite, missing_requirements  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def run_case(name: str, service_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = WordPressSite(Path(tmp))
        try:
            site.create()
            site.configure(service_url, "bench-key", "bench-secret")
            site.start()
            post = site.helper("create-post", title="Bench", content="Ein Artikel.")
            site.run_cron()  # the article's send and the first retry run, not measured
            times = []
            for n in range(COUNT):
                started = time.perf_counter()
                site.post_comment(post["id"], f"Kommentar Nummer {n} zum Artikel.", "L", "l@x.org")
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            site.run_cron()
            cron_s = time.perf_counter() - started
            pending = sum(
                1
                for c in site.helper("comments")["comments"]
                if c["meta"].get("_modassist_state") == "pending_send"
            )
        finally:
            site.destroy()
    print(
        f"{name:>8}: post comment median {statistics.median(times) * 1000:6.0f} ms,"
        f" max {max(times) * 1000:6.0f} ms; one cron run with {COUNT} queued"
        f" {cron_s:5.1f} s; still pending {pending}/{COUNT}"
    )


def main() -> None:
    reason = missing_requirements()
    if reason is not None:
        sys.exit(f"cannot run: {reason}")
    run_case("no url", "")  # plugin active but not configured: WordPress's own cost
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down_port = closed.getsockname()[1]  # bound, never listening: connection refused
        run_case("down", f"http://127.0.0.1:{down_port}")
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(COUNT + 8)  # the kernel accepts, nobody ever answers
        run_case("hanging", f"http://127.0.0.1:{hanging.getsockname()[1]}")


if __name__ == "__main__":
    main()
