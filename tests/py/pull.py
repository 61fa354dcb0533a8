"""Pull consumer through nats-py: fetch with acks, nak (with and without delay), term,
in_progress and redelivery after ack_wait, then the consumer's state.

Usage: python3 pull.py nats://HOST:PORT
"""

import asyncio
import time

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig

from harness import check, connect, eq, main, raises, within

ACK_WAIT = 1.5


async def body(url):
    nc = await connect(url, "py-pull")
    js = nc.jetstream()
    si = await js.add_stream(name="JOBS", subjects=["jobs.>"])
    eq(si.config.name, "JOBS", "stream name")
    eq(si.state.messages, 0, "messages in the new stream")

    for i in range(1, 7):
        ack = await js.publish(f"jobs.{i}", f"job-{i}".encode())
        eq((ack.stream, ack.seq), ("JOBS", i), f"publish ack {i}")

    cfg = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT)
    sub = await js.pull_subscribe("jobs.>", durable="worker", config=cfg)
    ci = await sub.consumer_info()
    eq(ci.name, "worker", "consumer name")
    eq(ci.config.ack_wait, ACK_WAIT, "ack_wait in the consumer config")
    eq(ci.num_pending, 6, "num_pending before any fetch")

    # A batch larger than what is there returns what is there.
    t0 = time.monotonic()
    msgs = await within(sub.fetch(10, timeout=2), 4, "fetch(10)")
    eq([m.data for m in msgs], [f"job-{i}".encode() for i in range(1, 7)], "fetched payloads")
    eq([m.subject for m in msgs], [f"jobs.{i}" for i in range(1, 7)], "fetched subjects")
    for i, m in enumerate(msgs, 1):
        md = m.metadata
        eq((md.stream, md.consumer), ("JOBS", "worker"), f"metadata names of {i}")
        eq((md.sequence.stream, md.sequence.consumer), (i, i), f"sequences of {i}")
        eq(md.num_delivered, 1, f"num_delivered of {i}")
        eq(md.num_pending, 6 - i, f"num_pending of {i}")
    m1, m2, m3, m4, m5, m6 = msgs

    await m1.ack_sync(timeout=2)
    await m2.nak()
    t_nak2 = time.monotonic()
    await m3.nak(delay=1.0)
    t_nak3 = time.monotonic()
    await m4.term()
    # m5: in_progress later, so its ack_wait restarts; m6: left alone.
    await nc.flush()

    # The plain nak comes back at once.
    again = await within(sub.fetch(1, timeout=2), 3, "redelivery of a nak'd message")
    eq(len(again), 1, "one message after the nak")
    r2 = again[0]
    t_r2 = time.monotonic()
    eq((r2.data, r2.metadata.sequence.stream), (b"job-2", 2), "the nak'd message comes back")
    eq(r2.metadata.num_delivered, 2, "num_delivered of the redelivery")
    eq(r2.metadata.sequence.consumer, 7, "consumer sequence of the redelivery")
    check(
        t_r2 - t_nak2 < ACK_WAIT - 0.5,
        f"the nak'd message came back {t_r2 - t_nak2:.2f}s after the nak, not at once",
    )
    await r2.ack_sync(timeout=2)

    await within(_sleep_until(t0 + 0.7), 2, "sleep")
    await m5.in_progress()
    t_prog5 = time.monotonic()
    await nc.flush()

    # Now m3 (nak delay 1 s), m6 (ack_wait 1.5 s after delivery) and m5 (1.5 s after
    # in_progress) come back, m4 (terminated) does not.
    got = {}
    deadline = time.monotonic() + 6
    while len(got) < 3 and time.monotonic() < deadline:
        # One at a time, so that each arrival time is taken when it arrives.
        try:
            batch = await within(sub.fetch(1, timeout=1), 3, "fetch of redeliveries")
        except nats.errors.TimeoutError:
            continue
        for m in batch:
            seq = m.metadata.sequence.stream
            check(seq not in got, f"stream sequence {seq} redelivered twice")
            got[seq] = (m, time.monotonic())
    eq(sorted(got), [3, 5, 6], "stream sequences redelivered (4 was terminated, 1 and 2 acked)")
    for seq, (m, _) in got.items():
        eq(m.data, f"job-{seq}".encode(), f"payload of redelivered {seq}")
        eq(m.metadata.num_delivered, 2, f"num_delivered of redelivered {seq}")
    t3, t5, t6 = got[3][1], got[5][1], got[6][1]
    check(t3 - t_nak3 >= 0.9, f"nak delay 1s: redelivered after {t3 - t_nak3:.2f}s")
    check(t6 - t0 >= ACK_WAIT - 0.1, f"ack_wait {ACK_WAIT}s: redelivered after {t6 - t0:.2f}s")
    check(
        t5 - t_prog5 >= ACK_WAIT - 0.1,
        f"in_progress restarts ack_wait: redelivered {t5 - t_prog5:.2f}s after it",
    )
    check(t5 > t6, "the message marked in progress came back after the one left alone")

    ci = await sub.consumer_info()
    eq(ci.num_ack_pending, 3, "num_ack_pending with three redeliveries unacked")
    eq(ci.num_redelivered, 3, "num_redelivered with three redeliveries unacked")
    eq(ci.num_pending, 0, "num_pending")
    eq(ci.delivered.stream_seq, 6, "delivered stream sequence")
    eq(ci.delivered.consumer_seq, 10, "delivered consumer sequence (6 + 4 redeliveries)")
    eq(ci.ack_floor.stream_seq, 2, "ack floor stream sequence (1 acked, 2 acked)")

    for m, _ in got.values():
        await m.ack_sync(timeout=2)

    # Nothing more: the terminated message stays away even past its ack_wait.
    await raises(
        (nats.errors.TimeoutError, nats.js.errors.FetchTimeoutError),
        sub.fetch(1, timeout=1),
        "fetch after everything was acked or terminated",
    )
    ci = await sub.consumer_info()
    eq(ci.num_ack_pending, 0, "num_ack_pending at the end")
    eq(ci.num_redelivered, 0, "num_redelivered at the end")
    eq(ci.ack_floor.stream_seq, 6, "ack floor stream sequence at the end")
    eq(ci.ack_floor.consumer_seq, 10, "ack floor consumer sequence at the end")

    # A new message reaches a waiting fetch.
    async def later():
        await asyncio.sleep(0.3)
        await js.publish("jobs.7", b"job-7")

    task = asyncio.ensure_future(later())
    late = await within(sub.fetch(1, timeout=3), 4, "fetch waiting for a new message")
    await task
    eq([(m.data, m.metadata.sequence.stream) for m in late], [(b"job-7", 7)], "late message")
    await late[0].ack_sync(timeout=2)

    await nc.close()
    return "6 fetched, nak/nak-delay/in_progress/ack_wait redeliveries and term as expected"


async def _sleep_until(t):
    await asyncio.sleep(max(0.0, t - time.monotonic()))


main("pull", body)
