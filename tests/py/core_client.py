"""Core NATS through nats.py (a second official client) against the server at argv[1].
Exits non-zero with a message on the first failed check; prints OK lines."""

import asyncio
import sys

import nats
from nats.errors import NoRespondersError


async def main(url):
    nc = await nats.connect(url, name="natrium-py-test")
    other = await nats.connect(url)

    # Publish/subscribe with a wildcard, then a barrier round trip.
    got = []
    sub = await nc.subscribe("py.*.x")
    await nc.flush()
    await other.publish("py.a.x", b"one")
    await other.publish("py.b.y", b"not for us")
    await other.publish("py.c.x", b"two")
    await other.flush()
    for _ in range(2):
        msg = await sub.next_msg(timeout=2)
        got.append(msg.data)
    assert got == [b"one", b"two"], got
    print("OK pubsub wildcard")

    # Queue group: each message to exactly one member.
    counts = {"a": 0, "b": 0}

    async def cb_a(msg):
        counts["a"] += 1

    async def cb_b(msg):
        counts["b"] += 1

    await nc.subscribe("py.work", queue="q", cb=cb_a)
    await other.subscribe("py.work", queue="q", cb=cb_b)
    await nc.flush()
    await other.flush()
    for i in range(200):
        await nc.publish("py.work", str(i).encode())
    await nc.flush()
    await asyncio.sleep(0.5)
    assert counts["a"] + counts["b"] == 200, counts
    print("OK queue group", counts)

    # Request/reply with headers.
    async def responder(msg):
        await msg.respond(b"pong:" + msg.data)

    await other.subscribe("py.svc", cb=responder)
    await other.flush()
    resp = await nc.request("py.svc", b"ping", timeout=2, headers={"X-Test": "1"})
    assert resp.data == b"pong:ping", resp.data
    print("OK request/reply")

    hsub = await other.subscribe("py.h")
    await other.flush()
    await nc.publish("py.h", b"body", headers={"Trace-Id": "abc"})
    hm = await hsub.next_msg(timeout=2)
    assert hm.headers and hm.headers.get("Trace-Id") == "abc", hm.headers
    print("OK headers")

    # No responders.
    try:
        await nc.request("py.nobody", b"x", timeout=2)
        raise AssertionError("expected no responders")
    except NoRespondersError:
        print("OK no responders")

    await nc.drain()
    await other.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
