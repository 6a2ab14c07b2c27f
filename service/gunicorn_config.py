"""gunicorn settings that `modassist serve` loads (`-c python:service.gunicorn_config`).

Only the logging lives here: gunicorn's own error and access logs and the app's records
go through service.logging as JSON lines, like the worker's and the CLI's.
"""

from service.logging import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
