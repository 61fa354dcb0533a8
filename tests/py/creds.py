"""Operator mode through nats-py: logins with a .creds file and with a JWT and seed in
separate files (the nonce signed by nats-py's nkeys), a request across two such users, the
user JWT's publish permission enforced, and a revoked user's credentials refused.

Usage: python3 creds.py nats://HOST:PORT, with the files named by the environment:
SB_CREDS (a user of account A), SB_JWT and SB_SEED (a second user of A, its JWT and its
seed apart, allowed to publish on "creds.>" and "_INBOX.>" only), SB_REVOKED (a .creds file
of a user that account A revoked).
"""

import asyncio
import os

import nats
import nats.errors

from harness import check, eq, main, within


async def login(url, name, credentials):
    errors = []

    async def on_error(e):
        errors.append(e)

    nc = await within(
        nats.connect(
            url,
            name=name,
            user_credentials=credentials,
            connect_timeout=2,
            allow_reconnect=False,
            error_cb=on_error,
        ),
        5,
        f"{name} logging in",
    )
    return nc, errors


async def body(url):
    creds = os.environ["SB_CREDS"]
    split = (os.environ["SB_JWT"], os.environ["SB_SEED"])

    # A .creds file, and the JWT and seed apart: both sign the INFO's nonce.
    service, _ = await login(url, "py-creds-service", creds)
    client, client_errors = await login(url, "py-creds-client", split)

    async def answer(msg):
        await msg.respond(b"hello " + msg.data)

    await service.subscribe("creds.greet", cb=answer)
    await service.flush()
    reply = await within(
        client.request("creds.greet", b"py", timeout=3), 5, "the request"
    )
    eq(reply.data, b"hello py", "the service's answer")

    # The user JWT allows publishing on creds.> only: the server refuses the rest with
    # a permissions violation and the connection stays up.
    got = []

    async def record(msg):
        got.append(msg)

    await service.subscribe("elsewhere", cb=record)
    await service.flush()
    await client.publish("elsewhere", b"denied")
    await client.flush()
    for _ in range(100):
        if client_errors:
            break
        await asyncio.sleep(0.02)
    check(
        any("permissions violation" in str(e).lower() for e in client_errors),
        f"a permissions violation for the denied publish, got {client_errors!r}",
    )
    check(client.is_connected, "the client stays connected after the violation")
    await service.flush()
    eq(got, [], "messages delivered on the denied subject")

    # A revoked user's credentials are refused at login.
    try:
        nc, _ = await login(url, "py-creds-revoked", os.environ["SB_REVOKED"])
    except (nats.errors.Error, OSError, asyncio.TimeoutError) as e:
        refusal = str(e)
    else:
        await nc.close()
        refusal = None
    check(refusal is not None, "the revoked user logged in")
    check(
        "authorization violation" in refusal.lower(),
        f"the revoked user's refusal names an authorization violation: {refusal!r}",
    )

    await client.close()
    await service.close()
    return "creds file and split JWT/seed logins, request, permissions, revocation"


if __name__ == "__main__":
    main("creds", body)
