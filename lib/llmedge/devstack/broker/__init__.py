"""A QStash-compatible broker: the official `qstash` SDK publishes to it unchanged, and every delivery and
callback it makes verifies with `qstash.Receiver` (PROTOCOLS §3, §4). Messages live in Redis.

    broker = QStashBroker(redis_url, token=..., current_signing_key=..., next_signing_key=...)
    app = Starlette(routes=[Mount("/qstash", broker.app)])   # QSTASH_URL=http://host:port/qstash
    await broker.start() ... await broker.stop()              # a mounted app gets no lifespan events
"""

from llmedge.devstack.broker.service import QStashBroker

__all__ = ["QStashBroker"]
