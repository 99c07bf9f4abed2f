"""A Socket.io client in its own process, as a browser would be, for the log-flood benchmark.

    python flood_client.py URL TOKEN OUT.json

Connects, records (line number, print time, receive time) for every `run_logs` line, and writes
them to OUT.json when the build finishes.
"""

import asyncio
import json
import sys
import time

import socketio


async def main(url: str, token: str, out: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    received: list[tuple[int, float, float]] = []
    done = asyncio.Event()

    def on_lines(payload: dict) -> None:
        now = time.time() * 1000
        for line in payload["lines"]:
            parts = line["log"].split()
            if len(parts) == 3 and parts[0] == "line":
                received.append((int(parts[1]), float(parts[2]), now))

    client.on("run_logs", on_lines)
    client.on("buildStatusUpdate",
              lambda p: done.set() if p["status"] in ("passed", "failed") else None)
    await client.connect(url, transports=["websocket"], auth={"token": token}, wait_timeout=5)
    print("connected", flush=True)
    await asyncio.wait_for(done.wait(), 300)
    await asyncio.sleep(0.5)
    await client.disconnect()
    with open(out, "w") as handle:
        json.dump(received, handle)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
