"""``autoscorer worker``: a Celery worker that runs jobs, plus a reaper for lost ones."""

from __future__ import annotations

import typer

ALL_QUEUES = "score,auto,docker,local,kubernetes"


def worker(
    queues: str = typer.Option(
        ALL_QUEUES, "--queues", "-Q", help="Routing keys to consume, comma-separated"
    ),
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Jobs at once"),
    pool: str = typer.Option("prefork", help="Celery pool: prefork, threads or solo"),
    hostname: str | None = typer.Option(None, help="Worker name (default: celery@host)"),
    loglevel: str = typer.Option("INFO", help="Log level"),
    reaper: bool = typer.Option(True, help="Also requeue jobs whose worker vanished"),
    metrics_port: int | None = typer.Option(
        None, help="Serve this worker's Prometheus metrics on this port (see docs/metrics.md)"
    ),
) -> None:
    """Run jobs from the broker (AUTOSCORER_BROKER_URL) against the store
    (AUTOSCORER_DATABASE_URL). Start as many as you like, on as many machines."""
    from autoscorer.jobs.factory import start_worker_reaper
    from autoscorer.jobs.queues.celery_app import make_app
    from autoscorer.jobs.queues.celery_queue import CeleryQueue
    from autoscorer.observability import (
        configure_logging,
        install_metrics,
        start_worker_exporter,
    )
    from autoscorer.settings import Settings

    settings = Settings()
    configure_logging(settings)
    install_metrics()  # before the pool forks: the children inherit the subscriptions
    if metrics_port is not None:
        start_worker_exporter(metrics_port)
    app = make_app(settings)
    lost = start_worker_reaper(settings, CeleryQueue(app).enqueue) if reaper else None
    argv = ["worker", f"--queues={queues}", f"--concurrency={concurrency}", f"--pool={pool}"]
    argv += [f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    try:
        app.worker_main(argv)
    finally:
        if lost is not None:
            lost.stop()


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("worker")(worker)
