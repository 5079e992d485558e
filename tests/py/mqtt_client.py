"""paho-mqtt (MQTT 3.1.1) against natrium, with nats.py on the NATS side: argv[1] is
host:port of the MQTT listener, argv[2] the nats:// URL of the same server, argv[3]
the check group ("main", "persist-before", "persist-after"). Prints OK lines; exits
non-zero on the first failed check."""

import asyncio
import queue
import sys
import time

import nats
import paho.mqtt.client as mqtt

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)
NATS_URL = sys.argv[2]
GROUP = sys.argv[3] if len(sys.argv) > 3 else "main"


def client(cid, clean=True, will=None, keepalive=60):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean,
                    protocol=mqtt.MQTTv311)
    c.inbox = queue.Queue()
    c.on_message = lambda cl, ud, m: cl.inbox.put(m)
    c.connected = queue.Queue()
    c.on_connect = lambda cl, ud, flags, rc, props=None: cl.connected.put((flags, rc))
    if will:
        c.will_set(*will)
    c.connect(HOST, PORT, keepalive=keepalive)
    c.loop_start()
    flags, rc = c.connected.get(timeout=5)
    assert not rc.is_failure, rc
    c.session_present = flags.session_present
    return c


def sub(c, topic, qos):
    r = c.subscribe(topic, qos)
    assert r[0] == mqtt.MQTT_ERR_SUCCESS, r
    time.sleep(0.2)


def get(c, timeout=3):
    return c.inbox.get(timeout=timeout)


def nothing(c, wait=0.5):
    try:
        m = c.inbox.get(timeout=wait)
    except queue.Empty:
        return
    raise AssertionError(f"unexpected message on {m.topic}: {m.payload!r}")


async def main_checks():
    nc = await nats.connect(NATS_URL)
    a = client("paho-a")
    b = client("paho-b")

    sub(a, "t/+/x", 0)
    b.publish("t/1/x", b"q0", qos=0).wait_for_publish(3)
    m = get(a)
    assert (m.topic, m.payload, m.qos) == ("t/1/x", b"q0", 0), (m.topic, m.payload, m.qos)
    print("OK qos0 pubsub")

    sub(a, "q1/#", 1)
    info = b.publish("q1/a/b", b"q1", qos=1)
    info.wait_for_publish(3)
    assert info.is_published()
    m = get(a)
    assert (m.topic, m.payload, m.qos) == ("q1/a/b", b"q1", 1), (m.topic, m.qos)
    b.publish("q1", b"parent", qos=1).wait_for_publish(3)
    m = get(a)
    assert (m.topic, m.payload) == ("q1", b"parent"), m.topic
    print("OK qos1 pubsub and a/# matches a")

    sub(a, "q2/t", 2)
    info = b.publish("q2/t", b"q2", qos=2)
    info.wait_for_publish(3)
    m = get(a)
    assert (m.topic, m.payload, m.qos) == ("q2/t", b"q2", 2), (m.topic, m.qos)
    nothing(a)
    print("OK qos2 exactly once")

    # NATS -> MQTT and MQTT -> NATS with the subject mapping.
    sub(a, "from/nats/+", 1)
    await nc.publish("from.nats.x", b"hello mqtt")
    await nc.flush()
    m = get(a)
    assert (m.topic, m.payload, m.qos) == ("from/nats/x", b"hello mqtt", 0), (m.topic, m.qos)
    ns = await nc.subscribe("to.nats.>")
    await nc.flush()
    b.publish("to/nats/deep/topic", b"hello nats", qos=0).wait_for_publish(3)
    nm = await ns.next_msg(timeout=3)
    assert nm.subject == "to.nats.deep.topic" and nm.data == b"hello nats", nm
    assert nm.headers == {"Nmqtt-Pub": "0"}, nm.headers  # as nats-server 2.15.1
    print("OK nats interop both ways")

    # Retained: set, delivered on subscribe with the retain flag, replaced, cleared.
    b.publish("ret/t", b"v1", qos=1, retain=True).wait_for_publish(3)
    b.publish("ret/t", b"v2", qos=1, retain=True).wait_for_publish(3)
    c = client("paho-c")
    sub(c, "ret/#", 1)
    m = get(c)
    assert (m.topic, m.payload, m.retain) == ("ret/t", b"v2", True), (m.payload, m.retain)
    nothing(c)
    b.publish("ret/t", b"", qos=1, retain=True).wait_for_publish(3)
    m = get(c)  # the clearing publish itself reaches the live subscriber
    c.disconnect()
    c.loop_stop()
    d = client("paho-d")
    sub(d, "ret/#", 1)
    nothing(d)
    d.disconnect()
    d.loop_stop()
    print("OK retained set replace clear")

    # Will: sent on abnormal close, not on DISCONNECT.
    sub(a, "wills/#", 1)
    w = client("paho-will", will=("wills/w", b"gone", 1, False))
    w.disconnect()
    w.loop_stop()
    nothing(a)
    w2 = client("paho-will2", will=("wills/w2", b"gone2", 1, False))
    w2.loop_stop()
    w2.socket().close()
    m = get(a, timeout=5)
    assert (m.topic, m.payload) == ("wills/w2", b"gone2"), m.topic
    print("OK will on abnormal close only")

    # Client ID takeover: a second connection with the same ID closes the first.
    t1 = client("paho-same")
    dropped = queue.Queue()
    t1.on_disconnect = lambda *args: dropped.put(True)
    t2 = client("paho-same")
    assert dropped.get(timeout=5)
    t1.loop_stop()
    t2.disconnect()
    t2.loop_stop()
    print("OK client id takeover")

    a.disconnect()
    b.disconnect()
    await nc.close()


def persist_before():
    s = client("paho-persist", clean=False)
    sub(s, "persist/t", 1)
    s.disconnect()
    s.loop_stop()
    p = client("paho-pub")
    p.publish("persist/t", b"while away", qos=1).wait_for_publish(3)
    p.disconnect()
    s = client("paho-persist", clean=False)
    assert s.session_present
    m = get(s)
    assert (m.topic, m.payload, m.qos) == ("persist/t", b"while away", 1), m.payload
    s.disconnect()
    s.loop_stop()
    c = client("paho-persist", clean=True)
    assert not c.session_present
    c.disconnect()
    c.loop_stop()
    print("OK persistent session across reconnect")


if GROUP == "main":
    asyncio.run(main_checks())
elif GROUP == "persist":
    persist_before()
