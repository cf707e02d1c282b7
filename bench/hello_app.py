"""The floor for HTTP: a FastAPI "hello world" served like ``featurestore serve`` (uvicorn, httptools, uvloop).

    uvicorn bench.hello_app:app --http httptools --loop uvloop --no-access-log --port 6570

It answers the lookup path with a constant, reading nothing, so its latency is what FastAPI and
uvicorn cost before any feature store work.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/get-online-features")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
