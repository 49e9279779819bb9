"""API keys: tokens are random, shown once, and stored only as their SHA-256."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import ApiKey, utcnow

TOKEN_PREFIX = "dfd_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, name: str, rate_limit_per_minute: int = 120, max_batch_files: int = 1000) -> tuple[ApiKey, str]:
    """A new key and its token (the caller commits; the token cannot be recovered later)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name[:100], prefix=token[:12], key_hash=hash_token(token),
                 webhook_secret=secrets.token_hex(32), rate_limit_per_minute=rate_limit_per_minute,
                 max_batch_files=max_batch_files)
    session.add(key)
    session.flush()
    return key, token


def find(session: Session, token: str) -> ApiKey | None:
    """The active key for a token, or None."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_token(token))).first()
    return key if key is not None and key.revoked_at is None else None


def revoke(session: Session, key_id: int) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True
