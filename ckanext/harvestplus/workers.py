"""Gather and fetch workers that survive an idle or restarted Redis.

ckanext-harvest's consumers block on ``BLPOP`` without a timeout. redis-py 8
(pinned by CKAN 2.12) gives every socket a 5 s timeout, so an idle consumer
dies with ``TimeoutError: Timeout reading from socket`` (ckan/ckanext-harvest#581),
and any Redis restart kills it too. These workers pop with a short timeout,
reconnect with back-off when Redis goes away, and hand each message to
ckanext-harvest's own callbacks, so a job runs exactly as it would on the
upstream consumers. In addition:

- the gather worker skips a job that was stopped while it waited in the queue
  (upstream runs it anyway);
- an exception in a harvester never ends the worker;
- a job is marked Finished as soon as its last object is done, instead of at
  the next ``ckan harvester run``.
"""

from __future__ import annotations

import enum
import json
import logging
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import redis
import sqlalchemy as sa
from ckan import model
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestObject

from ckanext.harvestplus import jobs

log = logging.getLogger(__name__)

#: Seconds one BLPOP waits; below redis-py's default socket timeout of 5 s.
POLL_SECONDS = 2
#: Longest wait between two attempts to reach Redis again.
MAX_BACKOFF_SECONDS = 30.0


class Stage(enum.Enum):
    GATHER = "gather"
    FETCH = "fetch"


class Worker:
    """Consumes one harvest queue until :meth:`stop` (or SIGTERM/SIGINT)."""

    def __init__(self, stage: Stage, poll: float = POLL_SECONDS) -> None:
        self.stage = stage
        self.poll = poll
        self.routing_key = (
            queue.get_gather_routing_key()
            if stage is Stage.GATHER
            else queue.get_fetch_routing_key()
        )
        self.stopping = False
        self.handled = 0

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("%s worker stopping after the current message", self.stage.value)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, max_messages: int | None = None) -> None:
        """Consume until stopped, or until ``max_messages`` messages were handled."""
        if queue.config.get("ckan.harvest.mq.type", queue.MQ_TYPE) != "redis":
            raise RuntimeError(
                "harvestplus workers need ckan.harvest.mq.type = redis; with RabbitMQ use "
                "ckanext-harvest's gather-consumer and fetch-consumer."
            )
        log.info("%s worker listening on %s", self.stage.value, self.routing_key)
        backoff = 1.0
        connection: redis.Redis | None = None
        while not self.stopping and (max_messages is None or self.handled < max_messages):
            try:
                if connection is None:
                    connection = queue.get_connection()
                    connection.ping()
                    if backoff > 1:
                        log.warning("%s worker: Redis is back", self.stage.value)
                    backoff = 1.0
                item = connection.blpop([self.routing_key], timeout=self.poll)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                log.warning(
                    "%s worker: Redis unavailable (%s); retrying in %.0f s",
                    self.stage.value,
                    e,
                    backoff,
                )
                connection = None
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if item is None:
                continue
            self.handled += 1
            self.handle(connection, str(item[1]))

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    def handle(self, connection: redis.Redis, body: str) -> None:
        """One message, through ckanext-harvest's callback; never raises."""
        consumer = queue.RedisConsumer(connection, self.routing_key)
        method = queue.FakeMethod(body)
        job_id = None
        try:
            consumer.redis.set(consumer.persistance_key(body), str(jobs.local_now()))
            job_id = self._job_id(body)
            if self.stage is Stage.GATHER:
                if job_id is not None and not jobs.waiting_for_gather(job_id):
                    log.info("Job %s was stopped before its gather started; skipped", job_id)
                    consumer.basic_ack(body)
                    return
                self._call(queue.gather_callback, consumer, method, body)
            else:
                self._call(queue.fetch_callback, consumer, method, body)
        except Exception:
            log.exception("%s worker: message %s failed", self.stage.value, body[:200])
            model.Session.rollback()
            _ack_quietly(consumer, body)
        finally:
            if job_id is not None:
                _finish_quietly(job_id)
            model.Session.remove()

    @staticmethod
    def _call(callback: Callable[..., Any], consumer: Any, method: Any, body: str) -> None:
        callback(consumer, method, None, body)

    def _job_id(self, body: str) -> str | None:
        """The job a message belongs to (a fetch message names only its object)."""
        try:
            message = json.loads(body)
        except ValueError:
            return None
        if self.stage is Stage.GATHER:
            return message.get("harvest_job_id")
        object_id = message.get("harvest_object_id")
        if not object_id:
            return None
        row = model.Session.execute(
            sa.select(HarvestObject.harvest_job_id).where(HarvestObject.id == object_id)
        ).first()
        model.Session.rollback()  # no transaction left open across the callback
        return str(row[0]) if row else None


def _ack_quietly(consumer: queue.RedisConsumer, body: str) -> None:
    try:
        consumer.basic_ack(body)
    except Exception:  # the message is gone from the list; a stale key only delays a resubmit
        log.warning("could not acknowledge %s", body[:200])


def _finish_quietly(job_id: str) -> None:
    try:
        jobs.finish_if_done(job_id)
    except Exception:
        model.Session.rollback()
        log.exception("could not finish job %s", job_id)
