"""Durable push consumer through nats-py with manual acks: delivery in order, ack, nak,
redelivery after ack_wait, push_bound, unbinding and binding again to the same durable.

Usage: python3 push.py nats://HOST:PORT
"""

import asyncio
import time

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig

from harness import check, connect, eq, main, raises, within

ACK_WAIT = 2.0


async def body(url):
    nc = await connect(url, "py-push")
    js = nc.jetstream()
    await js.add_stream(name="EV", subjects=["ev.>"])
    for i in range(1, 11):
        ack = await js.publish(f"ev.{i % 3}", f"e-{i}".encode())
        eq(ack.seq, i, f"publish ack {i}")

    cfg = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT)
    sub = await js.subscribe("ev.>", durable="pusher", manual_ack=True, config=cfg)
    ci = await sub.consumer_info()
    eq(ci.name, "pusher", "consumer name")
    eq(ci.config.durable_name, "pusher", "durable name")
    check(
        (ci.config.deliver_subject or "").startswith("_INBOX."),
        f"deliver subject {ci.config.deliver_subject!r}",
    )
    ci = await _wait_bound(js, True)
    eq(ci.push_bound, True, "push_bound while subscribed")

    t0 = time.monotonic()
    first = []
    for i in range(1, 11):
        m = await sub.next_msg(timeout=2)
        first.append(m)
        md = m.metadata
        eq((m.data, m.subject), (f"e-{i}".encode(), f"ev.{i % 3}"), f"delivery {i}")
        eq((md.stream, md.consumer), ("EV", "pusher"), f"metadata names of {i}")
        eq((md.sequence.stream, md.sequence.consumer), (i, i), f"sequences of {i}")
        eq(md.num_delivered, 1, f"num_delivered of {i}")
        eq(md.num_pending, 10 - i, f"num_pending of {i}")

    # Ack all but 4 (nak'd: back at once) and 7 (left alone: back after ack_wait).
    t_nak = None
    for m in first:
        seq = m.metadata.sequence.stream
        if seq == 4:
            await m.nak()
            t_nak = time.monotonic()
        elif seq != 7:
            await m.ack()
    r4 = await sub.next_msg(timeout=2)
    t4 = time.monotonic()
    eq((r4.data, r4.metadata.sequence.stream), (b"e-4", 4), "the nak'd message")
    eq(r4.metadata.num_delivered, 2, "num_delivered of the nak'd message")
    eq(r4.metadata.sequence.consumer, 11, "consumer sequence of the nak'd message")
    check(
        t4 - t_nak < ACK_WAIT - 0.5,
        f"the nak'd message came back {t4 - t_nak:.2f}s after the nak, not at once",
    )
    await r4.ack()

    r7 = await sub.next_msg(timeout=4)
    t7 = time.monotonic()
    eq((r7.data, r7.metadata.sequence.stream), (b"e-7", 7), "the unacked message")
    eq(r7.metadata.num_delivered, 2, "num_delivered of the unacked message")
    check(t7 - t0 >= ACK_WAIT - 0.1, f"ack_wait {ACK_WAIT}s: redelivered after {t7 - t0:.2f}s")
    await r7.ack_sync(timeout=2)
    await raises(nats.errors.TimeoutError, sub.next_msg(timeout=0.5), "nothing more")

    ci = await sub.consumer_info()
    eq(ci.num_ack_pending, 0, "num_ack_pending after all acks")
    eq(ci.num_pending, 0, "num_pending after all deliveries")
    eq(ci.delivered.stream_seq, 10, "delivered stream sequence")
    eq(ci.delivered.consumer_seq, 12, "delivered consumer sequence")
    eq(ci.ack_floor.stream_seq, 10, "ack floor stream sequence")

    # A second subscription to a bound push consumer is refused (by push_bound).
    e = await raises(
        nats.js.errors.Error,
        js.subscribe("ev.>", durable="pusher", manual_ack=True),
        "a second subscription to the bound durable",
    )
    check("already bound" in str(e), f"why the second subscription was refused: {e}")

    # Unbind, publish more, bind again: the durable goes on where it was.
    await sub.unsubscribe()
    await nc.flush()
    for i in range(11, 14):
        await js.publish("ev.x", f"e-{i}".encode())
    ci = await _wait_bound(js, False)
    eq(bool(ci.push_bound), False, "push_bound after unsubscribe")
    eq(ci.num_pending, 3, "num_pending while unbound")

    nc2 = await connect(url, "py-push-2")
    js2 = nc2.jetstream()
    sub2 = await js2.subscribe("ev.>", durable="pusher", manual_ack=True)
    for i in range(11, 14):
        m = await sub2.next_msg(timeout=2)
        eq((m.data, m.metadata.sequence.stream), (f"e-{i}".encode(), i), f"after rebinding {i}")
        eq(m.metadata.sequence.consumer, i + 2, f"consumer sequence after rebinding {i}")
        await m.ack()
    await raises(nats.errors.TimeoutError, sub2.next_msg(timeout=0.3), "nothing after 13")

    # A push subscription with a callback gets new messages too.
    seen = asyncio.Queue()

    async def cb(msg):
        await msg.ack()
        await seen.put(msg)

    await sub2.unsubscribe()
    await nc2.flush()
    ci = await _wait_bound(js, False)
    eq(bool(ci.push_bound), False, "push_bound after the second unsubscribe")
    sub3 = await js2.subscribe("ev.>", durable="pusher", manual_ack=True, cb=cb)
    await js.publish("ev.cb", b"via-callback")
    m = await within(seen.get(), 3, "callback delivery")
    eq((m.data, m.metadata.sequence.stream), (b"via-callback", 14), "callback delivery")
    await sub3.unsubscribe()
    await nc2.close()
    await nc.close()
    return "14 messages in order, nak and ack_wait redeliveries, rebinding as expected"


async def _wait_bound(js, want):
    """The consumer's info once push_bound is `want` (nats-server notices a deliver
    subject's interest coming and going asynchronously), or after 2 s."""
    deadline = time.monotonic() + 2
    while True:
        ci = await js.consumer_info("EV", "pusher")
        if bool(ci.push_bound) == want or time.monotonic() > deadline:
            return ci
        await asyncio.sleep(0.02)


main("push", body)
