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
- the fetch worker imports a harvestplus source's objects itself, through the
  same importer as ``ckan harvestplus run --sync`` (claim, then one commit per
  dataset), and never an object another process has taken: neither a copy
  that ``ckan harvester run`` re-sent nor an object of an in-process run;
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
from types import FrameType
from typing import Any

import redis
from ckan import model
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestObject

from ckanext.harvestplus import jobs
from ckanext.harvestplus.harvesters import PipelineHarvester
from ckanext.harvestplus.pipeline.importer import Import
from ckanext.harvestplus.store import objects
from ckanext.harvestplus.types import DONE, ObjectState

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

    def run(self, max_messages: int | None = None, until_idle: bool = False) -> None:
        """Consume until stopped, until ``max_messages`` messages were handled, or
        with ``until_idle`` until the queue is found empty."""
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
                if until_idle:
                    break
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
            job_id, skip, harvester = self._read(body)
            if skip:
                log.info("%s worker: skipped %s (%s)", self.stage.value, body[:200], skip)
                consumer.basic_ack(body)
                return
            if isinstance(harvester, PipelineHarvester):
                _import(harvester, json.loads(body)["harvest_object_id"], str(job_id))
                consumer.basic_ack(body)
                return
            callback = queue.gather_callback if self.stage is Stage.GATHER else queue.fetch_callback
            callback(consumer, method, None, body)
        except Exception:
            log.exception("%s worker: message %s failed", self.stage.value, body[:200])
            model.Session.rollback()
            _ack_quietly(consumer, body)
        finally:
            if job_id is not None:
                _finish_quietly(job_id)
            model.Session.remove()

    def _read(self, body: str) -> tuple[str | None, str, Any]:
        """The job a message belongs to, why it must be skipped ("" to run it),
        and for a fetch message the harvester of the object's source.

        A gather message of a job stopped while queued is skipped. So is a
        fetch message of an object that is already done: ``ckan harvester run``
        re-sends every waiting object that is not in the queue, including the
        one a worker has just taken, and ckanext-harvest would import it a
        second time, or mark it ERROR once its job has finished.
        """
        try:
            message = json.loads(body)
        except ValueError:
            return None, "", None  # ckanext-harvest's callback says what is wrong with it
        if self.stage is Stage.GATHER:
            job_id = message.get("harvest_job_id")
            if job_id and not jobs.job_open(job_id):
                return job_id, "its job was stopped before its gather started", None
            return job_id, "", None
        row = objects.queued_object(str(message.get("harvest_object_id")))
        model.Session.rollback()  # no transaction left open across the callback
        if row is None:
            return None, "", None
        harvester = queue.get_harvester(row[2])
        if isinstance(harvester, PipelineHarvester) and row[1] != ObjectState.WAITING:
            reason = "an in-process run's" if row[1] == ObjectState.FETCH else f"already {row[1]}"
            return str(row[0]), reason, None
        if row[1] in DONE:
            return str(row[0]), f"already {row[1]}", None
        return str(row[0]), "", harvester


def _import(harvester: PipelineHarvester, object_id: str, job_id: str) -> None:
    """Import one queued object of a harvestplus source, unless another worker took
    it first; an object whose job ended meanwhile ends in ERROR (the next run
    imports its record)."""
    if not objects.claim(object_id):
        if jobs.job_open(job_id):
            log.info("fetch worker: object %s was taken by another worker", object_id)
        else:
            objects.end_unimported(job_id, [object_id])
        return
    obj = model.Session.get(HarvestObject, object_id)
    if obj is not None:
        Import(harvester.backend, obj).complete()


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
