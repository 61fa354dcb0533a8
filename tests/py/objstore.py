"""Object store through nats-py: a ~3 MB object put and read back in 128 KiB chunks with
its SHA-256 digest checked, info, small and empty objects, list, a watcher that sees a put
from a second connection and a delete, replacing an object (its old chunks purged), and
sealing the bucket.

Usage: python3 objstore.py nats://HOST:PORT
"""

import base64
import hashlib
import io
import random

import nats.js.errors
from nats.js.api import ObjectMeta
from nats.js.errors import ObjectNotFoundError

from harness import check, connect, eq, main, raises, within

CHUNK = 128 * 1024
BIG = 3 * 1024 * 1024 + 12345


def digest(data):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


async def next_update(w, what):
    return await within(w.updates(timeout=3), 4, what)


async def body(url):
    nc = await connect(url, "py-obj")
    js = nc.jetstream()
    obs = await js.create_object_store("files", description="py files")
    si = await js.stream_info("OBJ_files")
    eq(si.config.subjects, ["$O.files.C.>", "$O.files.M.>"], "the bucket's stream subjects")
    eq(si.config.allow_rollup_hdrs, True, "allow_rollup_hdrs")

    data = random.Random(17).randbytes(BIG)
    chunks = -(-BIG // CHUNK)
    info = await within(obs.put("big.bin", data), 8, "put of the big object")
    eq(
        (info.name, info.bucket, info.size, info.chunks),
        ("big.bin", "files", BIG, chunks),
        "put info",
    )
    eq(info.digest, digest(data), "digest from put")
    check(len(info.nuid or "") > 10, f"nuid {info.nuid!r}")
    si = await js.stream_info("OBJ_files")
    eq(si.state.messages, chunks + 1, "messages in the bucket: the chunks and the meta")

    got = await within(obs.get("big.bin"), 8, "get of the big object")
    eq(len(got.data), BIG, "size of what get returned")
    check(got.data == data, "the big object read back differs from what was put")
    eq(
        (got.info.size, got.info.chunks, got.info.digest, got.info.nuid),
        (BIG, chunks, digest(data), info.nuid),
        "get info",
    )

    buf = io.BytesIO()
    await within(obs.get("big.bin", writeinto=buf), 8, "get into a buffer")
    check(buf.getvalue() == data, "the big object read into a buffer differs")

    oi = await obs.get_info("big.bin")
    eq(
        (oi.name, oi.size, oi.chunks, oi.digest, oi.deleted),
        ("big.bin", BIG, chunks, digest(data), False),
        "get_info",
    )

    meta = ObjectMeta(name="small.txt", description="greeting")
    small = await obs.put("small.txt", b"hello world", meta=meta)
    eq((small.size, small.chunks), (11, 1), "small put info")
    oi = await obs.get_info("small.txt")
    eq((oi.description, oi.size, oi.digest), ("greeting", 11, digest(b"hello world")), "small info")
    eq((await obs.get("small.txt")).data, b"hello world", "small get")
    empty = await obs.put("empty", b"")
    eq((empty.size, empty.chunks), (0, 0), "empty put info")
    eq((await obs.get("empty")).data, b"", "empty get")
    await raises(ObjectNotFoundError, obs.get_info("nope"), "info of a missing object")
    await raises(ObjectNotFoundError, obs.get("nope"), "get of a missing object")

    eq(sorted(i.name for i in await obs.list()), ["big.bin", "empty", "small.txt"], "list")

    w = await obs.watch()
    initial = []
    while True:
        u = await next_update(w, "initial objects of the watch")
        if u is None:
            break
        initial.append((u.name, u.size))
        check(len(initial) <= 10, "too many initial objects")
    eq(sorted(initial), [("big.bin", BIG), ("empty", 0), ("small.txt", 11)], "initial watch")

    nc2 = await connect(url, "py-obj-2")
    obs2 = await nc2.jetstream().object_store("files")
    await obs2.put("new.txt", b"new")
    u = await next_update(w, "put from the second connection")
    eq((u.name, u.size, u.deleted, u.digest), ("new.txt", 3, False, digest(b"new")), "watched put")

    await obs.delete("small.txt")
    u = await next_update(w, "delete")
    eq((u.name, u.deleted, u.size), ("small.txt", True, 0), "watched delete")
    await raises(ObjectNotFoundError, obs.get_info("small.txt"), "info of a deleted object")
    oi = await obs.get_info("small.txt", show_deleted=True)
    eq((oi.name, oi.deleted), ("small.txt", True), "info of a deleted object, deleted shown")
    listed = sorted(i.name for i in await obs.list(ignore_deletes=True))
    eq(listed, ["big.bin", "empty", "new.txt"], "list without deleted")
    listed = sorted(i.name for i in await obs.list())
    eq(listed, ["big.bin", "empty", "new.txt", "small.txt"], "list with deleted")

    # Replacing the big object purges its old chunks.
    await obs2.put("big.bin", b"smaller now")
    u = await next_update(w, "replacement")
    eq((u.name, u.size, u.chunks), ("big.bin", 11, 1), "watched replacement")
    eq((await obs.get("big.bin")).data, b"smaller now", "get of the replaced object")
    si = await js.stream_info("OBJ_files")
    eq(si.state.messages, 6, "messages after replace: 4 metas, 1 chunk each of big.bin, new.txt")
    await w.stop()

    st = await obs.status()
    eq((st.bucket, st.description, st.sealed), ("files", "py files", False), "status before seal")
    await obs.seal()
    st = await obs.status()
    eq(st.sealed, True, "status after seal")
    e = await raises(
        nats.js.errors.APIError, obs.put("late", b"too late"), "put into a sealed bucket"
    )
    eq(
        (e.code, e.err_code, e.description),
        (400, 10109, "invalid operation on sealed stream"),
        "the error of a put into a sealed bucket",
    )
    await raises(nats.js.errors.APIError, obs.delete("new.txt"), "delete in a sealed bucket")
    eq((await obs2.get("new.txt")).data, b"new", "get from a sealed bucket")

    await nc2.close()
    await nc.close()
    return f"{BIG}-byte object in {chunks} chunks, digests, list, watch, delete, replace, seal"


main("objstore", body)
