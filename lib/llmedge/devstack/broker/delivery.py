"""The delivery loop: due messages → signed HTTP requests → delivered, retried later, or dead-lettered.

One asyncio task claims due messages from Redis and starts one task per attempt (at most
`max_concurrency` at once; flow-control keys gate them further). Each attempt (PROTOCOLS §3.7, §3.8):
sign, send with the message's method, forwarded headers and body unchanged, then
  2xx                                        → delivered, forgotten
  489 + `Upstash-NonRetryable-Error: true`, or no retries left → DLQ (+ failure callback)
  anything else, a timeout or no answer      → due again after the backoff (see `backoff.py`)
and in every case a callback message if the message has one. The loop never stops on a bad destination
or an unexpected error: the attempt is counted, logged, and the loop goes on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time

import httpx

from llmedge.devstack.broker.backoff import next_retry_delay_s
from llmedge.devstack.broker.callbacks import callback_message
from llmedge.devstack.broker.dead_letters import DeadLetters
from llmedge.devstack.broker.events import EventLog
from llmedge.devstack.broker.flow_control import FlowGates
from llmedge.devstack.broker.headers import canonical_header
from llmedge.devstack.broker.publishing import Publisher, new_message_id
from llmedge.devstack.broker.records import CallbackConfig, DestinationResponse, Headers, Message, MessageKind
from llmedge.devstack.broker.signing import SigningKeys, sign
from llmedge.devstack.broker.store import MessageStore, now_ms

log = logging.getLogger("llmedge.devstack.broker")

CLAIM_BATCH = 100
IDLE_POLL_S = 0.5  # also notices messages another process put in Redis
ERROR_PAUSE_S = 1.0  # after an unexpected error (e.g. Redis down), before the loop or message is retried
STOP_GRACE_S = 5.0
NON_RETRYABLE_STATUS = 489  # with `Upstash-NonRetryable-Error: true` (docs `qstash/features/retry.mdx`)


class DeliveryLoop:
    def __init__(
        self,
        store: MessageStore,
        dead_letters: DeadLetters,
        events: EventLog,
        publisher: Publisher,
        keys: SigningKeys,
        *,
        time_scale: float,
        max_timeout_s: float,
        max_concurrency: int,
        max_response_bytes: int,
    ) -> None:
        self._store = store
        self._dead_letters = dead_letters
        self._events = events
        self._publisher = publisher
        self._keys = keys
        self._time_scale = time_scale
        self._max_timeout_s = max_timeout_s
        self._max_response_bytes = max_response_bytes
        self.gates = FlowGates(time_scale)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._attempts: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """Look for due messages now (after a publish, or when a slot frees up)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop_soon()` (or a cancel)."""
        self._stopping = False
        while not self._stopping:
            self._wake.clear()
            try:
                wait_s = await self._dispatch()
            except Exception:
                log.exception("delivery loop error; retrying in %.1fs", ERROR_PAUSE_S)
                wait_s = ERROR_PAUSE_S
            if wait_s > 0:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancel that stop() sends.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await self._wake.wait()

    def stop_soon(self) -> None:
        """End `run()` at its next turn. The owner also cancels the task; this flag covers a cancel that a
        library swallows mid-await (seen here: the loop then kept running with `cancelling() == 1`)."""
        self._stopping = True
        self._wake.set()

    async def cancel_attempts(self) -> None:
        """Stop every attempt in flight; their messages stay claimed and are redelivered on the next start."""
        for task in list(self._attempts):
            task.cancel()
        if self._attempts:
            # Bounded: an attempt whose cancel was swallowed (see `stop_soon`) must not hold up a shutdown.
            await asyncio.wait(list(self._attempts), timeout=STOP_GRACE_S)

    async def _dispatch(self) -> float:
        """Start what is due; returns how long to wait before looking again."""
        await self._store.dispatch_queues()
        ids, next_due_ms = await self._store.claim_due(CLAIM_BATCH)
        for message_id in ids:
            message = await self._store.load(message_id)
            if message is None:  # cancelled between publish and now
                await self._store.unclaim(message_id)
            elif message.flow_control is not None:
                self.gates.offer(message.flow_control, message_id)
            else:
                self._start(message_id, flow_key=None)
        for flow_key, message_id in self.gates.admit():
            self._start(message_id, flow_key=flow_key)
        if len(ids) == CLAIM_BATCH:
            return 0.0
        waits = [IDLE_POLL_S]
        if next_due_ms is not None:
            waits.append((next_due_ms - now_ms()) / 1000)
        rate_wait = self.gates.seconds_until_rate_allows()
        if rate_wait is not None:
            waits.append(rate_wait)
        return max(0.0, min(waits))

    def _start(self, message_id: str, flow_key: str | None) -> None:
        task = asyncio.create_task(self._attempt(message_id, flow_key), name=f"qstash-attempt-{message_id}")
        self._attempts.add(task)
        task.add_done_callback(self._attempts.discard)

    async def _attempt(self, message_id: str, flow_key: str | None) -> None:
        try:
            async with self._slots:
                message = await self._store.load(message_id)
                if message is None:
                    await self._store.unclaim(message_id)
                    return
                await self._deliver(message)
        except Exception:
            log.exception("attempt of %s failed unexpectedly; it is retried", message_id)
            with contextlib.suppress(Exception):
                await self._store.requeue(message_id, now_ms() + round(ERROR_PAUSE_S * 1000))
        finally:
            if flow_key is not None:
                self.gates.release(flow_key)
            self.wake()

    async def _deliver(self, message: Message) -> None:
        await self._events.record(message, "ACTIVE", retried=message.retried)
        response = await self._send(message)
        callbacks: list[Message] = []
        if message.callback is not None:
            callbacks.append(self._callback(message, response, message.callback, kind="callback"))
        outcome = _response_details(response)
        if 200 <= response.status < 300:
            await self._store.remove(message)
            await self._events.record(message, "DELIVERED", **outcome)
        elif _non_retryable(response) or message.retried >= message.max_retries:
            letter = await self._dead_letters.add(message, response)
            await self._store.remove(message)
            await self._events.record(message, "FAILED", dlqId=letter.dlq_id, **outcome)
            if message.failure_callback is not None:
                callbacks.append(
                    self._callback(
                        message,
                        response,
                        message.failure_callback,
                        kind="failure-callback",
                        dlq_id=letter.dlq_id,
                    )
                )
        else:
            delay_s = next_retry_delay_s(
                retried=message.retried,
                retry_delay=message.retry_delay,
                response_headers=response.headers,
                now_s=time.time(),
            )
            due = now_ms() + self._publisher.delay_ms(delay_s)
            retry = message.model_copy(update={"retried": message.retried + 1})
            if await self._store.reschedule(retry, due):
                await self._events.record(message, "ERROR", **outcome)
                await self._events.record(retry, "RETRY", nextDeliveryTime=due, retried=retry.retried)
        for callback in callbacks:
            await self._publisher.add(callback)

    def _callback(
        self,
        message: Message,
        response: DestinationResponse,
        config: CallbackConfig,
        *,
        kind: MessageKind,
        dlq_id: str | None = None,
    ) -> Message:
        delay_ms = self._publisher.delay_ms(config.delay_s)
        return callback_message(
            new_message_id(), message, response, config, kind=kind, delay_ms=delay_ms, dlq_id=dlq_id
        )

    async def _send(self, message: Message) -> DestinationResponse:
        """One HTTP request to the destination; any failure to get an answer is status 0."""
        if self.http is None:
            raise RuntimeError("the broker is not started")
        body = message.body
        headers: list[tuple[str, str]] = [
            ("User-Agent", "Upstash-QStash"),
            ("Upstash-Message-Id", message.message_id),
            ("Upstash-Retried", str(message.retried)),
            ("Upstash-Signature", sign(self._keys.current, url=message.url, body=body)),
        ]
        headers += [(name, value) for name, values in message.delivered_headers().items() for value in values]
        timeout_s = min(message.timeout_s, self._max_timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                request = self.http.build_request(
                    message.method, message.url, content=body, headers=headers, timeout=timeout_s
                )
                reply = await self.http.send(request, stream=True)
                try:
                    received = await self._read_capped(reply)
                finally:
                    await reply.aclose()
        except TimeoutError:
            return DestinationResponse(status=0, error=f"timed out after {timeout_s:g}s")
        except Exception as error:  # refused, reset, bad URL, TLS, …: the destination did not answer
            return DestinationResponse(status=0, error=f"{type(error).__name__}: {error}")
        response_headers: Headers = {}
        for name, value in reply.headers.multi_items():
            response_headers.setdefault(canonical_header(name), []).append(value)
        return DestinationResponse(
            status=reply.status_code,
            headers=response_headers,
            body_b64=base64.b64encode(received).decode("ascii"),
        )

    async def _read_capped(self, reply: httpx.Response) -> bytes:
        """The response body, cut at the limit (QStash truncates it too, to the plan's size)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in reply.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self._max_response_bytes:
                break
        return b"".join(chunks)[: self._max_response_bytes]


def _non_retryable(response: DestinationResponse) -> bool:
    values = {name.lower(): values for name, values in response.headers.items()}
    flagged = [value.strip().lower() for value in values.get("upstash-nonretryable-error", [])]
    return response.status == NON_RETRYABLE_STATUS and "true" in flagged


def _response_details(response: DestinationResponse) -> dict[str, object]:
    return {
        "responseStatus": response.status,
        "responseHeader": response.headers,
        "responseBody": response.body.decode("utf-8", errors="replace"),
        "error": response.error,
    }
