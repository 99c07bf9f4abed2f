"""`/.well-known/acme-challenge/<token>` on every host of the plain-HTTP port: the answers of
HTTP-01 validations in flight (engine.tls.certificates), from the database, so that whichever
instance the CA reaches answers. Routed before the sites, as Netlify and Let's Encrypt's own
clients do: a release's own files under that path are never served.
"""

from __future__ import annotations

import tornado.web

from sql.certificates import get_challenge

CHALLENGE_PATH = r"/\.well-known/acme-challenge/([A-Za-z0-9_-]{1,255})"


class AcmeChallengeHandler(tornado.web.RequestHandler):
    async def get(self, token: str) -> None:
        async with self.application.db.pool.connection() as conn:
            answer = await get_challenge(conn, token)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if answer is None:
            self.set_status(404)
            self.finish("no such challenge\n")
            return
        self.finish(answer)
