"""nats.py's ObjectStore API against a JetStream server (argv[1] = URL).

Prints "OK <check>" for every check that passed; any failure raises and exits
non-zero. Only operations that need no consumer (reading an object back, list and
watch use one; tests/object_store.rs covers them once consumers exist).
"""

import asyncio
import base64
import hashlib
import json
import sys
import time

import nats
import nats.js.errors as jserr


def ok(check):
    print(f"OK {check}", flush=True)


async def stream_messages(nc, stream):
    r = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=5)
    return json.loads(r.data)["state"]["messages"]


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=5)
    b = "PYOBJ" + str(int(time.time() * 1000) % 100000000)

    obs = await js.create_object_store(b, description="py objects")
    st = await obs.status()
    assert st.bucket == b, st.bucket
    assert not st.sealed
    ok("bucket create and status")

    data = bytes((i * 7919 + i // 1000) % 251 for i in range(3 * 1024 * 1024 + 5))
    info = await obs.put("dir/big", data)
    want = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
    assert info.size == len(data), info.size
    assert info.chunks == 25, info.chunks
    assert info.digest == want, (info.digest, want)
    got = await obs.get_info("dir/big")
    assert (got.size, got.chunks, got.digest, got.nuid) == (info.size, info.chunks, info.digest, info.nuid), got
    assert await stream_messages(nc, f"OBJ_{b}") == 25 + 1
    ok("put and info")

    small = await obs.put("dir/big", b"now small")
    assert small.nuid != info.nuid
    assert await stream_messages(nc, f"OBJ_{b}") == 1 + 1
    ok("overwrite purges old chunks")

    await obs.delete("dir/big")
    try:
        await obs.get_info("dir/big")
        raise AssertionError("deleted object still found")
    except jserr.ObjectNotFoundError:
        pass
    deleted = await obs.get_info("dir/big", show_deleted=True)
    assert deleted.deleted and deleted.size == 0, deleted
    assert await stream_messages(nc, f"OBJ_{b}") == 1
    try:
        await obs.get_info("never")
        raise AssertionError("missing object found")
    except jserr.ObjectNotFoundError:
        pass
    ok("delete")

    await obs.seal()
    assert (await obs.status()).sealed
    try:
        await obs.put("after", b"x")
        raise AssertionError("put into a sealed bucket")
    except jserr.APIError:
        pass
    ok("seal")

    assert await js.delete_object_store(b)
    try:
        await js.object_store(b)
        raise AssertionError("deleted bucket found")
    except jserr.BucketNotFoundError:
        pass
    ok("delete bucket")

    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
