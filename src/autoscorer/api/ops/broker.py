"""Is the configured message broker (Redis or RabbitMQ) answering? For ``/health``."""

from __future__ import annotations

from urllib.parse import urlsplit

PROBE_TIMEOUT = 2.0  # seconds; a health answer must stay quick


def broker_component(url: str) -> str:
    """The health component a broker URL is shown as: ``redis`` or ``rabbitmq``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme.startswith("redis") or scheme == "rediss":
        return "redis"
    if scheme.startswith(("amqp", "pyamqp")):
        return "rabbitmq"
    return scheme or "broker"


def probe_broker(url: str) -> str:
    """``healthy`` when the broker accepts a connection (and a Redis PING), else ``unhealthy``."""
    try:
        if broker_component(url) == "redis":
            import redis

            client = redis.Redis.from_url(
                url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=PROBE_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT)
    except Exception:  # any failure to reach it is what /health reports
        return "unhealthy"
    return "healthy"
