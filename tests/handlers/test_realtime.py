"""Socket.io: only signed-in sockets connect, and events reach their own user only."""

from __future__ import annotations

import asyncio
import threading

import pytest
import socketio

from tests.support.accounts import sign_in_github_user, sign_in_local_admin


class Browser:
    """A Socket.io client as the dashboard uses it: WebSocket transport, token in `auth`."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        self.refusals: list = []
        self.client.on("connect_error", self.refusals.append)
        self.client.on("buildStatusUpdate", self.events.put_nowait)

    async def connect(self, url: str, token: str | None) -> None:
        auth = {"token": token} if token is not None else None
        await self.client.connect(url, transports=["websocket"], auth=auth, wait_timeout=5)

    async def close(self) -> None:
        await self.client.disconnect()


@pytest.fixture
def browsers(io_loop):
    opened: list[Browser] = []

    def open_browser() -> Browser:
        opened.append(Browser())
        return opened[-1]

    yield open_browser
    for browser in opened:
        io_loop.run_sync(browser.close)


@pytest.mark.gen_test
@pytest.mark.parametrize("token", [None, "", "not-a-jwt"])
async def test_a_socket_without_a_valid_token_is_refused(app_server, browsers, token):
    browser = browsers()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await browser.connect(app_server.url, token)
    assert browser.refusals == [{"message": "unauthorized: a valid session token is required"}]
    assert not app_server.app.sio.manager.rooms.get("/", {}).keys() - {None}


@pytest.mark.gen_test
async def test_an_event_from_a_worker_thread_reaches_only_its_users_sockets(app_server, api,
                                                                           browsers):
    alice = await sign_in_local_admin(app_server, api)
    bob = await sign_in_github_user(app_server, api, 1001, "bob")
    alice_tab, alice_other_tab, bob_tab = browsers(), browsers(), browsers()
    for browser, who in ((alice_tab, alice), (alice_other_tab, alice), (bob_tab, bob)):
        await browser.connect(app_server.url, who.token)

    payload = {"projectId": 1, "buildId": 7, "status": "running"}
    worker = threading.Thread(target=app_server.app.events.emit,
                              args=(alice.user["id"], "buildStatusUpdate", payload))
    worker.start()
    worker.join()

    assert await asyncio.wait_for(alice_tab.events.get(), 5) == payload
    assert await asyncio.wait_for(alice_other_tab.events.get(), 5) == payload
    await asyncio.sleep(0.2)
    assert bob_tab.events.empty()


@pytest.mark.gen_test
async def test_events_from_many_threads_arrive_in_order_per_thread(app_server, api, browsers):
    alice = await sign_in_local_admin(app_server, api)
    tab = browsers()
    await tab.connect(app_server.url, alice.token)

    def burst(thread: int) -> None:
        for n in range(200):
            app_server.app.events.emit(alice.user["id"], "buildStatusUpdate",
                                       {"thread": thread, "n": n})

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = [await asyncio.wait_for(tab.events.get(), 5) for _ in range(800)]
    for t in range(4):
        assert [e["n"] for e in received if e["thread"] == t] == list(range(200))


@pytest.mark.gen_test
async def test_logout_disconnects_the_users_sockets(app_server, api, browsers):
    alice = await sign_in_local_admin(app_server, api)
    tab = browsers()
    await tab.connect(app_server.url, alice.token)
    assert tab.client.connected

    await api.post("/api/auth/logout", headers=alice.headers)

    for _ in range(50):
        if not tab.client.connected:
            break
        await asyncio.sleep(0.05)
    assert not tab.client.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        await browsers().connect(app_server.url, alice.token)
