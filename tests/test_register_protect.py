"""ID numbers and phones: the kept key, hashing, sealing, masking."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from gridgov.config import Settings
from gridgov.register.protect import (
    RegisterKeys,
    SealError,
    key_path,
    mask_id,
    mask_phone,
    register_keys,
)
from gridgov.users.secret import SecretKeyError

NUMBER = "450502199001011233"


def test_the_generated_key_is_private_kept_and_not_the_token_key(tmp_path):
    settings = Settings(data_dir=tmp_path, environment="development")
    first = register_keys(settings)
    assert key_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert register_keys(settings) == first  # kept across restarts
    assert not (tmp_path / "secret_key").exists()  # its own file, not the token key
    other = register_keys(Settings(data_dir=tmp_path / "b", environment="development"))
    assert other.id_hash(NUMBER) != first.id_hash(NUMBER)


def test_a_key_file_others_may_read_is_refused(tmp_path):
    register_keys(Settings(data_dir=tmp_path, environment="development"))
    os.chmod(key_path(tmp_path), 0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        register_keys(Settings(data_dir=tmp_path, environment="development"))


def test_a_short_configured_key_is_refused_and_a_long_one_used(tmp_path):
    with pytest.raises(ValidationError, match="GRIDGOV_REGISTER_KEY"):
        Settings(register_key="short", data_dir=tmp_path)
    configured = Settings(register_key="r" * 40, data_dir=tmp_path)
    assert register_keys(configured) == RegisterKeys.from_secret("r" * 40)
    assert not key_path(tmp_path).exists()


def test_hashes_match_and_sealed_values_open_only_for_their_field_and_key():
    keys = RegisterKeys.from_secret("k" * 32)
    assert keys.id_hash(NUMBER) == keys.id_hash(NUMBER) != keys.id_hash("450502199001011241")
    sealed = keys.seal(NUMBER, field="id_number")
    assert NUMBER.encode() not in sealed and sealed != keys.seal(NUMBER, field="id_number")
    assert keys.open(sealed, field="id_number") == NUMBER
    with pytest.raises(SealError):
        keys.open(sealed, field="phone")
    with pytest.raises(SealError):
        RegisterKeys.from_secret("j" * 32).open(sealed, field="id_number")


def test_masks():
    assert mask_id(NUMBER) == "4505**********1233"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_id("1234") == "****" and mask_phone("110") == "***"
