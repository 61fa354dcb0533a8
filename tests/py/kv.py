"""Key-value store through nats-py: put/get/revisions, create conflict, update with the
last revision, delete, purge, history, keys, watchers that see changes made from a second
connection, and a bucket read through direct gets and one through STREAM.MSG.GET.

Usage: python3 kv.py nats://HOST:PORT
"""

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError

from harness import check, connect, eq, main, raises, within


def summary(entries):
    return [(e.key, e.value, e.revision, e.operation) for e in entries]


async def next_update(w, what):
    # watcher.updates() has its own timeout; bound it anyway.
    return await within(w.updates(timeout=3), 4, what)


async def body(url):
    nc = await connect(url, "py-kv")
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="cfg", history=5, direct=True)
    st = await kv.status()
    eq((st.bucket, st.history, st.values), ("cfg", 5, 0), "status of the new bucket")
    si = await js.stream_info("KV_cfg")
    eq(si.config.subjects, ["$KV.cfg.>"], "the bucket's stream subjects")
    eq(si.config.allow_direct, True, "allow_direct")
    eq(si.config.max_msgs_per_subject, 5, "max_msgs_per_subject (history)")

    eq(await kv.put("a", b"1"), 1, "revision of the first put")
    e = await kv.get("a")
    eq((e.bucket, e.key, e.value, e.revision), ("cfg", "a", b"1", 1), "get after put")
    eq(await kv.put("a", b"2"), 2, "revision of the second put")
    eq((await kv.get("a")).value, b"2", "get after the second put")

    await raises(KeyWrongLastSequenceError, kv.create("a", b"no"), "create of an existing key")
    eq(await kv.create("b", b"x"), 3, "create of a new key")
    eq(await kv.update("a", b"3", last=2), 4, "update with the last revision")
    await raises(
        KeyWrongLastSequenceError, kv.update("a", b"4", last=2), "update with a stale revision"
    )
    eq((await kv.get("a")).value, b"3", "value after the refused update")
    eq((await kv.get("a", revision=2)).value, b"2", "get of an older revision")
    await raises(KeyNotFoundError, kv.get("missing"), "get of a missing key")

    eq(sorted(await kv.keys()), ["a", "b"], "keys")
    eq(
        summary(await kv.history("a")),
        [("a", b"1", 1, None), ("a", b"2", 2, None), ("a", b"3", 4, None)],
        "history of a",
    )

    await kv.delete("b")
    await raises(KeyNotFoundError, kv.get("b"), "get of a deleted key")
    eq(
        summary(await kv.history("b")),
        [("b", b"x", 3, None), ("b", b"", 5, "DEL")],
        "history of b after delete",
    )
    eq(sorted(await kv.keys()), ["a"], "keys after deleting b")
    eq(await kv.create("b", b"again"), 6, "create of a deleted key")
    eq((await kv.get("b")).value, b"again", "get of the re-created key")

    await kv.purge("a")
    await raises(KeyNotFoundError, kv.get("a"), "get of a purged key")
    eq(summary(await kv.history("a")), [("a", b"", 7, "PURGE")], "history of a after purge")
    eq(sorted(await kv.keys()), ["b"], "keys after purging a")
    st = await kv.status()
    eq(st.values, 4, "messages in the bucket (b: 3, 5, 6; a: the purge marker)")

    # A watcher on w.* sees what a second connection does.
    w = await kv.watch("w.*")
    eq(await next_update(w, "initial marker of an empty watch"), None, "end of initial values")
    nc2 = await connect(url, "py-kv-2")
    kv2 = await nc2.jetstream().key_value("cfg")
    eq(await kv2.put("w.one", b"hello"), 8, "put from the second connection")
    e = await next_update(w, "put seen by the watcher")
    eq((e.key, e.value, e.revision, e.operation), ("w.one", b"hello", 8, None), "watched put")
    await kv2.delete("w.one")
    e = await next_update(w, "delete seen by the watcher")
    eq((e.key, e.revision, e.operation), ("w.one", 9, "DEL"), "watched delete")
    eq(await kv2.put("other", b"not watched"), 10, "put outside the watch")
    eq(await kv2.put("w.two", b"2"), 11, "second watched put")
    e = await next_update(w, "second put seen by the watcher")
    eq((e.key, e.value, e.revision), ("w.two", b"2", 11), "the watcher skips other keys")
    await w.stop()

    # watchall: the latest entry of every key, then the end marker, then live updates.
    wa = await kv.watchall()
    initial = []
    while True:
        e = await next_update(wa, "initial values of watchall")
        if e is None:
            break
        initial.append(e)
        check(len(initial) <= 10, "too many initial values")
    eq(
        sorted((e.key, e.revision, e.operation) for e in initial),
        [
            ("a", 7, "PURGE"),
            ("b", 6, None),
            ("other", 10, None),
            ("w.one", 9, "DEL"),
            ("w.two", 11, None),
        ],
        "initial values of watchall (markers included)",
    )
    await kv2.purge("other")
    e = await next_update(wa, "purge seen by watchall")
    eq((e.key, e.revision, e.operation), ("other", 12, "PURGE"), "watched purge")
    await wa.stop()

    # A bucket without direct gets, history 1.
    plain = await js.create_key_value(bucket="plain")
    eq((await js.stream_info("KV_plain")).config.allow_direct, False, "allow_direct of plain")
    eq(await plain.put("k", b"v1"), 1, "put into plain")
    eq(await plain.put("k", b"v2"), 2, "second put into plain")
    e = await kv2.get("b")
    eq(e.value, b"again", "get through the second connection")
    e = await (await nc2.jetstream().key_value("plain")).get("k")
    eq((e.value, e.revision), (b"v2", 2), "get from plain")
    eq(summary(await plain.history("k")), [("k", b"v2", 2, None)], "history 1 keeps one")
    await plain.delete("k")
    await raises(NoKeysError, plain.keys(), "keys of a bucket with only a delete marker")

    await nc2.close()
    await nc.close()
    return "put/get/create/update/delete/purge/history/keys and watchers as expected"


main("kv", body)
