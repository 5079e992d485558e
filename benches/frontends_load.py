"""Load for benches/frontends.sh: one publisher and one subscriber on the same
server, N messages of SIZE bytes; prints `<msgs/s>` of the subscriber's receive rate.

  frontends_load.py mqtt-qos0 HOST:PORT N SIZE
  frontends_load.py mqtt-qos1 HOST:PORT N SIZE
  frontends_load.py ws-pubsub ws://HOST:PORT N SIZE
"""

import asyncio
import sys
import threading
import time


def mqtt_run(addr, n, size, qos):
    import paho.mqtt.client as mqtt

    host, port = addr.rsplit(":", 1)
    done = threading.Event()
    count = [0]

    def on_msg(cl, ud, m):
        count[0] += 1
        if count[0] >= n:
            done.set()

    def mk(cid):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv311)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect(host, int(port))
        c.loop_start()
        return c

    sub = mk("bench-sub")
    sub.on_message = on_msg
    sub.subscribe("bench/t", qos)
    time.sleep(0.5)
    pub = mk("bench-pub")
    payload = b"x" * size
    start = time.time()
    for _ in range(n):
        pub.publish("bench/t", payload, qos=qos)
    done.wait(timeout=120)
    el = time.time() - start
    pub.loop_stop()
    sub.loop_stop()
    if count[0] < n:
        print(f"incomplete: {count[0]}/{n}", file=sys.stderr)
        sys.exit(1)
    print(f"{n / el:.0f}")


async def ws_run(url, n, size):
    import nats

    sub = await nats.connect(url)
    pub = await nats.connect(url, pending_size=64 * 1024 * 1024)
    got = asyncio.Event()
    count = [0]

    async def cb(m):
        count[0] += 1
        if count[0] >= n:
            got.set()

    await sub.subscribe("bench.t", cb=cb, pending_msgs_limit=n + 1, pending_bytes_limit=-1)
    await sub.flush()
    payload = b"x" * size
    start = time.time()
    for i in range(n):
        await pub.publish("bench.t", payload)
        if i % 1000 == 999:
            await pub.flush()
    await pub.flush()
    await asyncio.wait_for(got.wait(), 120)
    el = time.time() - start
    print(f"{n / el:.0f}")
    await pub.close()
    await sub.close()


mode, addr, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "mqtt-qos0":
    mqtt_run(addr, n, size, 0)
elif mode == "mqtt-qos1":
    mqtt_run(addr, n, size, 1)
elif mode == "ws-pubsub":
    asyncio.run(ws_run(addr, n, size))
else:
    sys.exit(f"unknown mode {mode}")
