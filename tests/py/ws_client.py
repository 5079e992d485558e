"""nats.py over ws:// (aiohttp transport) against natrium: argv[1] is the ws:// URL,
argv[2] the nats:// URL of the same server. Prints OK lines; exits non-zero on the
first failed check."""

import asyncio
import sys

import nats


async def main(ws_url, nats_url):
    ws = await nats.connect(ws_url, name="ws-client")
    tcp = await nats.connect(nats_url, name="tcp-client")

    sub = await ws.subscribe("ws.*.in")
    await ws.flush()
    await tcp.publish("ws.a.in", b"from tcp")
    await tcp.flush()
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"from tcp" and msg.subject == "ws.a.in", msg
    print("OK tcp to ws")

    tsub = await tcp.subscribe("tcp.in")
    await tcp.flush()
    big = bytes(range(256)) * 1024
    await ws.publish("tcp.in", big)
    await ws.publish("tcp.in", b"small", headers={"K": "v"})
    await ws.flush()
    m1 = await tsub.next_msg(timeout=2)
    m2 = await tsub.next_msg(timeout=2)
    assert m1.data == big, len(m1.data)
    assert m2.data == b"small" and m2.headers == {"K": "v"}, m2
    print("OK ws to tcp")

    async def responder(m):
        await m.respond(b"answer:" + m.data)

    await tcp.subscribe("svc.echo", cb=responder)
    await tcp.flush()
    r = await ws.request("svc.echo", b"q", timeout=2)
    assert r.data == b"answer:q", r
    print("OK request/reply")

    own = await ws.subscribe("ws.self")
    await ws.flush()
    for i in range(1000):
        await ws.publish("ws.self", str(i).encode())
    await ws.flush()
    for i in range(1000):
        m = await own.next_msg(timeout=2)
        assert m.data == str(i).encode(), (i, m.data)
    print("OK ws to ws in order")

    await ws.close()
    await tcp.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
