"""nats.py over TLS against natrium: argv = url ca_file [cert key]. Prints OK lines."""
import asyncio
import ssl
import sys

import nats


async def main():
    url, ca = sys.argv[1], sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    if len(sys.argv) > 4:
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    nc = await nats.connect(url, tls=ctx, allow_reconnect=False, connect_timeout=3)
    sub = await nc.subscribe("tls.>")
    await nc.publish("tls.py", b"over tls")
    msg = await sub.next_msg(timeout=5)
    assert msg.data == b"over tls", msg.data
    print("OK pubsub")

    async def handler(m):
        await m.respond(b"pong " + m.data)

    await nc.subscribe("svc", cb=handler)
    r = await nc.request("svc", b"x", timeout=5)
    assert r.data == b"pong x", r.data
    print("OK request")
    await nc.drain()


asyncio.run(main())
