"""gunicorn settings for the API: ``gunicorn -c deploy/gunicorn.conf.py`` (issue #19).

Each worker is its own process, so the request metrics (``backend/common/observability.py``)
are kept in ``prometheus_client``'s multi-process files and summed at every scrape of
``/metrics``, whichever worker answers. ``PROMETHEUS_MULTIPROC_DIR`` must be set before
``prometheus_client`` is first imported, hence here, in the master, before any worker
starts. Give it a directory of its own (it is emptied of metric files at every start);
unset, each gunicorn master makes a private one and removes it when it exits.
Command-line options (``-b``, ``-w``) override the defaults below.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

# Before prometheus_client is imported: it picks its storage when it is first imported.
# Private by default, so two gunicorns on one machine never count into each other's files.
OWN_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if OWN_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="linli-prometheus-")
MULTIPROC_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]

from prometheus_client import multiprocess  # noqa: E402 (needs the directory set above)

wsgi_app = "backend:create_app()"
bind = "127.0.0.1:8000"
workers = 2
# One JSON line per request comes from the app's own log (LINLI_LOG_FORMAT=json);
# gunicorn's access log would only say it twice.
accesslog = None
errorlog = "-"


def on_starting(server) -> None:  # noqa: ANN001 (gunicorn's Arbiter)
    """Counts left by a previous run would be added to this run's: start from zero."""
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    for path in glob.glob(os.path.join(MULTIPROC_DIR, "*.db")):
        os.remove(path)


def child_exit(server, worker) -> None:  # noqa: ANN001 (gunicorn's Arbiter and Worker)
    """A worker that exits leaves its counters (they still count) but not its live gauges."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:  # noqa: ANN001 (gunicorn's Arbiter)
    if OWN_DIR:
        shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
