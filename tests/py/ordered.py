"""Ordered push consumer through nats-py (flow control and heartbeats on, acks off):
1,000 messages of 20 KiB read in order, with flow control requests on the way, then a
live one.

Usage: python3 ordered.py nats://HOST:PORT
"""

import asyncio
import time

import nats.errors
from nats.js.api import AckPolicy

from harness import check, connect, eq, main, raises

N = 1000
SIZE = 20 * 1024  # 20 MB in all: enough for the server to ask for flow control


def payload(i):
    head = f"msg-{i:04d}:".encode()
    return head + bytes([i % 251]) * (SIZE - len(head))


async def body(url):
    nc = await connect(url, "py-ordered")
    js = nc.jetstream()
    await js.add_stream(name="ORD", subjects=["ord.>"])
    pub = await connect(url, "py-ordered-pub")
    for i in range(1, N + 1):
        await pub.publish(f"ord.{i % 7}", payload(i))
    await pub.flush()
    deadline = time.monotonic() + 3
    while True:
        si = await js.stream_info("ORD")
        if si.state.messages == N or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    eq((si.state.messages, si.state.first_seq, si.state.last_seq), (N, 1, N), "stream state")

    sub = await js.subscribe("ord.>", ordered_consumer=True)
    ci = await sub.consumer_info()
    eq(ci.config.ack_policy, AckPolicy.NONE, "ack policy of the ordered consumer")
    eq(ci.config.flow_control, True, "flow control of the ordered consumer")
    eq(ci.config.max_deliver, 1, "max_deliver of the ordered consumer")
    eq(ci.config.mem_storage, True, "mem_storage of the ordered consumer")
    eq(ci.config.idle_heartbeat, 5.0, "idle heartbeat of the ordered consumer")

    # Count the flow control requests nats-py answers (an internal of nats-py 2.16).
    jsi = sub._sub._jsi
    flow_controls = []
    schedule = jsi.schedule_flow_control_response

    def counting(reply):
        flow_controls.append(reply)
        return schedule(reply)

    jsi.schedule_flow_control_response = counting

    for i in range(1, N + 1):
        m = await sub.next_msg(timeout=2)
        md = m.metadata
        if m.data != payload(i) or md.sequence.stream != i or md.sequence.consumer != i:
            eq(
                (m.data[:9], m.subject, md.sequence.stream, md.sequence.consumer),
                (payload(i)[:9], f"ord.{i % 7}", i, i),
                f"message {i} of {N}",
            )
        eq(m.subject, f"ord.{i % 7}", f"subject of {i}")
        eq(md.num_pending, N - i, f"num_pending of {i}")
        eq(md.num_delivered, 1, f"num_delivered of {i}")

    check(len(flow_controls) >= 1, "no flow control request in 20 MB")
    await raises(nats.errors.TimeoutError, sub.next_msg(timeout=0.3), "nothing after the last")
    ci = await sub.consumer_info()
    eq(ci.delivered.stream_seq, N, "delivered stream sequence")
    eq(ci.num_pending, 0, "num_pending after reading all")
    check(ci.num_ack_pending == 0, f"num_ack_pending {ci.num_ack_pending} with ack policy none")

    await pub.publish("ord.live", b"live")
    await pub.flush()
    m = await sub.next_msg(timeout=2)
    md = m.metadata
    eq((m.data, md.sequence.stream, md.sequence.consumer), (b"live", N + 1, N + 1), "live message")
    await sub.unsubscribe()
    await pub.close()
    await nc.close()
    return (
        f"{N} messages of {SIZE} bytes in order ({len(flow_controls)} flow control requests), "
        "then a live one"
    )


main("ordered", body)
