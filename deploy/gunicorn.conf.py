"""gunicorn settings for the web role (`gunicorn -c deploy/gunicorn.conf.py 'service.web:create_app()'`).

Every value can be overridden by environment variables, so one image fits small and large
hosts. The web app never scores (workers do), so requests are short: threads serve many
CMS calls per process, and a request that takes longer than `timeout` is a bug.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('MODASSIST_PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(4, multiprocessing.cpu_count() + 1))))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Restart workers now and then, so a slow leak never takes a host down.
max_requests = 2000
max_requests_jitter = 200
# Behind a reverse proxy that terminates TLS: trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# Access log lines carry method, path (ids only), status and duration; never bodies.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# One control socket per user and host would be shared by every server on the host.
control_socket_disable = True
