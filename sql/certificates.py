"""Queries on ACME accounts, certificates and HTTP-01 answers. Keys are AES-256-GCM
ciphertexts; sealing and opening them is engine.tls.certificates' business."""

from __future__ import annotations

import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def get_account(conn: AsyncConnection, directory_url: str) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT key_nonce, key_ciphertext, account_url FROM acme_accounts "
                         "WHERE directory_url = %s", (directory_url,))
    return await cursor.fetchone()


async def put_account(conn: AsyncConnection, directory_url: str, nonce: bytes,
                      ciphertext: bytes, account_url: str | None) -> None:
    """Store an account; the first one stored for a directory wins (instances racing)."""
    await conn.execute(
        """
        INSERT INTO acme_accounts (directory_url, key_nonce, key_ciphertext, account_url)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (directory_url) DO UPDATE SET account_url = EXCLUDED.account_url
            WHERE acme_accounts.key_ciphertext = EXCLUDED.key_ciphertext
        """,
        (directory_url, nonce, ciphertext, account_url))


async def get_certificate(conn: AsyncConnection, hostname: str) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT hostname, status, key_nonce, key_ciphertext, chain_pem, not_after, error, "
        "attempted_at FROM certificates WHERE hostname = %s", (hostname,))
    return await cursor.fetchone()


async def put_issued(conn: AsyncConnection, hostname: str, nonce: bytes, ciphertext: bytes,
                     chain_pem: str, not_after: datetime.datetime) -> None:
    await conn.execute(
        """
        INSERT INTO certificates (hostname, status, key_nonce, key_ciphertext, chain_pem,
                                  not_after, error, attempted_at)
        VALUES (%s, 'issued', %s, %s, %s, %s, NULL, now())
        ON CONFLICT (hostname) DO UPDATE SET status = 'issued', key_nonce = EXCLUDED.key_nonce,
            key_ciphertext = EXCLUDED.key_ciphertext, chain_pem = EXCLUDED.chain_pem,
            not_after = EXCLUDED.not_after, error = NULL, attempted_at = now()
        """,
        (hostname, nonce, ciphertext, chain_pem, not_after))


async def put_failure(conn: AsyncConnection, hostname: str, error: str) -> None:
    """Record a failed attempt; a certificate issued before stays (and is still served)."""
    await conn.execute(
        """
        INSERT INTO certificates (hostname, status, error, attempted_at)
        VALUES (%s, 'failed', %s, now())
        ON CONFLICT (hostname) DO UPDATE SET error = EXCLUDED.error, attempted_at = now(),
            status = CASE WHEN certificates.chain_pem IS NULL THEN 'failed'
                          ELSE certificates.status END
        """,
        (hostname, error))


async def certificates_due(conn: AsyncConnection,
                           expiring_before: datetime.datetime) -> list[str]:
    """Host names whose certificate expires before `expiring_before`."""
    cursor = await conn.execute("SELECT hostname FROM certificates WHERE not_after < %s "
                                "ORDER BY not_after", (expiring_before,))
    return [row[0] for row in await cursor.fetchall()]


async def hold_issuance_lock(conn: AsyncConnection, hostname: str) -> None:
    """Wait until no other instance is getting `hostname` a certificate, then hold it (a
    session-level advisory lock on `conn`, until `release_issuance_lock`)."""
    await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 6))",
                       ("certificate:" + hostname,))


async def release_issuance_lock(conn: AsyncConnection, hostname: str) -> None:
    await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 6))",
                       ("certificate:" + hostname,))


async def put_challenge(conn: AsyncConnection, token: str, key_authorization: str,
                        expires_at: datetime.datetime) -> None:
    await conn.execute(
        "INSERT INTO acme_challenges (token, key_authorization, expires_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization, "
        "expires_at = EXCLUDED.expires_at", (token, key_authorization, expires_at))


async def delete_challenge(conn: AsyncConnection, token: str) -> None:
    await conn.execute("DELETE FROM acme_challenges WHERE token = %s OR expires_at < now()",
                       (token,))


async def get_challenge(conn: AsyncConnection, token: str) -> str | None:
    cursor = await conn.execute("SELECT key_authorization FROM acme_challenges "
                                "WHERE token = %s AND expires_at > now()", (token,))
    row = await cursor.fetchone()
    return row[0] if row else None
