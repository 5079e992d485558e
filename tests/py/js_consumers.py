"""JetStream consumers through nats.py (a second official client) against the server at
argv[1]: pull_subscribe + fetch + ack, push subscribe, an ordered consumer, consumer
info. Exits non-zero with a message on the first failed check; prints OK lines."""

import asyncio
import sys

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError


async def main(url):
    nc = await nats.connect(url, name="natrium-py-js")
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="PY", subjects=["py.>"]))
    for i in range(10):
        ack = await js.publish(f"py.{i % 2}", f"m{i}".encode())
        assert ack.seq == i + 1, ack
    print("OK publish")

    # Durable pull consumer: fetch in batches, ack, state in consumer info.
    psub = await js.pull_subscribe("py.>", durable="pull", stream="PY")
    msgs = await psub.fetch(4, timeout=2)
    assert [m.data for m in msgs] == [b"m0", b"m1", b"m2", b"m3"], [m.data for m in msgs]
    assert msgs[1].metadata.sequence.stream == 2
    for m in msgs:
        await m.ack()
    await nc.flush()
    more = await psub.fetch(10, timeout=2)
    assert len(more) == 6, len(more)
    await more[0].ack_sync()
    info = await js.consumer_info("PY", "pull")
    assert info.delivered.stream_seq == 10, info
    assert info.num_ack_pending == 5, info
    assert info.num_pending == 0, info
    print("OK pull fetch ack")

    # A fetch with nothing left times out cleanly.
    try:
        await psub.fetch(1, timeout=0.5)
        raise AssertionError("fetch on an empty consumer returned messages")
    except nats.errors.TimeoutError:
        pass
    print("OK pull empty")

    # Push subscription with a filter (ephemeral consumer, explicit acks).
    got = []
    done = asyncio.Event()

    async def cb(msg):
        got.append(msg.data)
        await msg.ack()
        if len(got) == 5:
            done.set()

    sub = await js.subscribe("py.1", cb=cb, stream="PY")
    await asyncio.wait_for(done.wait(), 3)
    assert got == [b"m1", b"m3", b"m5", b"m7", b"m9"], got
    await sub.unsubscribe()
    print("OK push subscribe")

    # Ordered consumer (flow control + heartbeats), deliver last per subject.
    osub = await js.subscribe(
        "py.>", ordered_consumer=True, deliver_policy=DeliverPolicy.LAST_PER_SUBJECT
    )
    a = await osub.next_msg(timeout=2)
    b = await osub.next_msg(timeout=2)
    assert sorted([a.data, b.data]) == [b"m8", b"m9"], (a.data, b.data)
    print("OK ordered consumer")

    try:
        await js.consumer_info("PY", "missing")
        raise AssertionError("info of a missing consumer succeeded")
    except NotFoundError:
        pass
    await js.delete_consumer("PY", "pull")
    print("OK consumer errors and delete")
    await nc.close()


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1]), 30))
    except Exception as e:  # noqa: BLE001 - report any failure
        print(f"FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
