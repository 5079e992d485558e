"""nats.py's KeyValue API against a JetStream server (argv[1] = URL).

Prints "OK <check>" for every check that passed; any failure raises and exits
non-zero. Only operations that need no consumer (the watch-based ones, keys and
history, are covered by tests/kv_store.rs once consumers exist).
"""

import asyncio
import sys
import time

import nats
import nats.js.api as api
import nats.js.errors as jserr


def ok(check):
    print(f"OK {check}", flush=True)


async def expect(exc, coro):
    try:
        await coro
    except exc as e:
        return e
    raise AssertionError(f"expected {exc.__name__}")


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=5)
    suffix = str(int(time.time() * 1000) % 100000000)

    b = "PY" + suffix
    kv = await js.create_key_value(bucket=b, history=5, ttl=3600, max_value_size=1024, description="py", direct=True)
    st = await kv.status()
    assert st.bucket == b, st.bucket
    assert st.history == 5, st.history
    assert st.ttl == 3600, st.ttl
    cfg = st.stream_info.config
    assert cfg.max_msg_size == 1024, cfg.max_msg_size
    assert cfg.discard == api.DiscardPolicy.NEW, cfg.discard
    assert cfg.allow_rollup_hdrs and cfg.deny_delete and cfg.allow_direct, cfg
    assert cfg.subjects == [f"$KV.{b}.>"], cfg.subjects
    # Creating the same bucket again is fine; the bucket is found by name.
    await js.create_key_value(bucket=b, history=5, ttl=3600, max_value_size=1024, description="py", direct=True)
    kv2 = await js.key_value(b)
    assert (await kv2.status()).history == 5
    ok("bucket create and status")

    r1 = await kv.put("color", b"red")
    r2 = await kv.put("color", b"blue")
    assert (r1, r2) == (1, 2), (r1, r2)
    e = await kv.get("color")
    assert e.value == b"blue" and e.revision == 2 and e.key == "color", e
    old = await kv.get("color", revision=1)
    assert old.value == b"red", old
    await expect(jserr.KeyNotFoundError, kv.get("missing"))
    ok("put/get")

    assert await kv.create("new", b"1") == 3
    await expect(jserr.KeyWrongLastSequenceError, kv.create("new", b"2"))
    assert (await kv.get("new")).value == b"1"
    ok("create existing fails")

    await expect(jserr.KeyWrongLastSequenceError, kv.update("color", b"x", last=1))
    assert await kv.update("color", b"green", last=2) == 4
    ok("update wrong revision fails")

    await kv.delete("new")
    e = await expect(jserr.KeyNotFoundError, kv.get("new"))
    assert e.op == "DEL", e.op
    assert await kv.create("new", b"again") == 6
    assert (await kv.get("new")).value == b"again"
    ok("delete then create")

    await kv.purge("color")
    e = await expect(jserr.KeyNotFoundError, kv.get("color"))
    assert e.op == "PURGE", e.op
    for rev in (1, 2, 4):
        await expect(jserr.KeyNotFoundError, kv.get("color", revision=rev))
    st = await kv.status()
    # new: put, DEL, put (3); color: the purge marker (1).
    assert st.values == 4, st.values
    ok("purge")

    for i in range(1, 9):
        await kv.put("h", f"v{i}".encode())
    infos = await kv.status()
    assert infos.values == 4 + 5, infos.values
    first_h = infos.stream_info.state.last_seq - 7
    for rev in range(first_h, first_h + 3):
        await expect(jserr.KeyNotFoundError, kv.get("h", revision=rev))
    for i, rev in enumerate(range(first_h + 3, first_h + 8), start=4):
        assert (await kv.get("h", revision=rev)).value == f"v{i}".encode()
    ok("history limit")

    e = await expect(jserr.APIError, kv.put("big", b"x" * 2000))
    assert e.err_code == 10054, e
    ok("max value size")

    await expect(jserr.InvalidBucketNameError, js.create_key_value(bucket="bad.name"))
    await expect(jserr.InvalidKeyError, kv.put("bad key", b"x"))
    await expect(jserr.InvalidKeyError, kv.get(".a"))
    ok("bad names")

    # Without allow_direct the client reads with STREAM.MSG.GET instead.
    t = await js.create_key_value(bucket="PYTTL" + suffix, history=1, ttl=1)
    assert not (await t.status()).stream_info.config.allow_direct
    await expect(jserr.KeyNotFoundError, t.get("k"))
    await t.put("k", b"v")
    assert (await t.get("k")).value == b"v"
    deadline = time.time() + 5
    while True:
        try:
            await t.get("k")
        except jserr.KeyNotFoundError:
            break
        assert time.time() < deadline, "value did not expire"
        await asyncio.sleep(0.1)
    assert (await t.status()).values == 0
    ok("ttl")

    assert await js.delete_key_value(b)
    await expect(jserr.BucketNotFoundError, js.key_value(b))
    await js.delete_key_value("PYTTL" + suffix)
    ok("delete bucket")

    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
