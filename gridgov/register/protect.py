"""ID numbers and phones, never in clear: a keyed hash to match, a sealed value to show.

One register key (GRIDGOV_REGISTER_KEY, else a random key made on first start and kept 0600
in the data folder as ``register_key``, the way the token key is kept) gives two keys by
HKDF: one for HMAC-SHA256 (the same number always hashes the same, so imports match without
decrypting anything) and one for AES-GCM (a fresh nonce per value; the field's name is the
associated data, so a sealed phone cannot pass for an ID number). Losing the key loses every
sealed value: back it up with the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.config import Settings
from gridgov.register.models import Enterprise, Person
from gridgov.users.secret import SecretKeyError, load_or_create_secret

KEY_FILE = "register_key"
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that this key did not seal (another key, or altered)."""


class KeyMismatch(SecretKeyError):
    """The register's sealed values were sealed with another key (a lost or replaced key):
    reading them fails and imports would no longer match anyone, so nothing may go on."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


@dataclass(frozen=True)
class RegisterKeys:
    """The keys that hash and seal the register's protected fields."""

    hash_key: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str) -> RegisterKeys:
        """Both keys from one secret (at least 32 characters)."""
        return cls(
            _derive(secret, b"gridgov register hmac"), _derive(secret, b"gridgov register aead")
        )

    def id_hash(self, id_number: str) -> bytes:
        """The keyed hash an ID number is matched by (upper-case X, no spaces).

        >>> keys = RegisterKeys.from_secret("k" * 32)
        >>> keys.id_hash("11010519491231002x") == keys.id_hash(" 11010519491231002X")
        True
        """
        normal = id_number.strip().upper().encode()
        return hmac.new(self.hash_key, normal, hashlib.sha256).digest()

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.seal_key)

    def seal(self, value: str, *, field: str) -> bytes:
        """``value`` encrypted (nonce + AES-GCM ciphertext), bound to ``field``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode(), field.encode())

    def open(self, sealed: bytes, *, field: str) -> str:
        """The clear value of ``sealed`` (SealError if this key did not seal it for ``field``).

        >>> keys = RegisterKeys.from_secret("k" * 32)
        >>> keys.open(keys.seal("13812341234", field="phone"), field="phone")
        '13812341234'
        """
        try:
            clear = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], field.encode())
        except InvalidTag as exc:
            raise SealError(field) from exc
        return clear.decode()


def register_keys(settings: Settings) -> RegisterKeys:
    """The keys from GRIDGOV_REGISTER_KEY, else from the key kept in the data folder."""
    if settings.register_key is not None:
        return RegisterKeys.from_secret(settings.register_key.get_secret_value())
    return RegisterKeys.from_secret(
        load_or_create_secret(settings.data_dir, KEY_FILE, "GRIDGOV_REGISTER_KEY")
    )


def check_keys(
    session: Session, keys: RegisterKeys, *, setting: str = "GRIDGOV_REGISTER_KEY"
) -> None:
    """Refuse (KeyMismatch) a key that does not open the register's sealed values.

    One sealed ID number and one sealed phone are tried: a key made afresh after the old one
    was lost would otherwise hash every ID number differently, so the next department list
    would match nobody and add everyone again."""
    samples = (
        (Person.id_sealed, "id_number"),
        (Person.phone_sealed, "phone"),
        (Enterprise.phone_sealed, "phone"),
    )
    for column, name in samples:
        sealed = session.scalar(select(column).where(column.is_not(None)).limit(1))
        if sealed is None:
            continue
        try:
            keys.open(sealed, field=name)
        except SealError as exc:
            raise KeyMismatch("register.key_mismatch", setting=setting) from exc


def key_path(data_dir: Path) -> Path:
    """Where the generated register key is kept."""
    return data_dir / KEY_FILE


def mask_id(id_number: str) -> str:
    """The first four and last four characters, the rest hidden.

    >>> mask_id("450502199001011233")
    '4505**********1233'
    """
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """The first three and last four digits, the rest hidden.

    >>> mask_phone("13812341234"), mask_phone("0771-1234567")
    ('138****1234', '077*****4567')
    """
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
