"""Operational state in .git/gitmonkey/: sync state, ephemeral values, the secret key."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta

import pytest

from gitmonkey.store.state import (
    CorruptStateWarning,
    EphemeralStore,
    SyncState,
    atomic_write,
    secret_key,
)

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_sync_state_round_trip(tmp_path):
    state = SyncState.load(tmp_path)
    assert state.slices() == {}
    state.record_success("us-east-1", "ec2.security_group", items=12, api_calls=3, when=T0)
    state.record_failure("global", "iam.role", "AccessDenied: iam:ListRoles", when=T0)
    state.save()

    loaded = SyncState.load(tmp_path)
    assert loaded.slices() == {
        "global/iam.role": {
            "last_attempt": "2024-01-02T03:04:05Z", "last_success": None,
            "last_error": "AccessDenied: iam:ListRoles", "last_error_at": "2024-01-02T03:04:05Z",
            "items": None, "api_calls": None,
        },
        "us-east-1/ec2.security_group": {
            "last_attempt": "2024-01-02T03:04:05Z", "last_success": "2024-01-02T03:04:05Z",
            "last_error": None, "last_error_at": None, "items": 12, "api_calls": 3,
        },
    }
    assert loaded.has_succeeded("us-east-1", "ec2.security_group")
    assert not loaded.has_succeeded("global", "iam.role")
    assert not loaded.has_succeeded("eu-west-1", "ec2.security_group")
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 1


def test_failure_after_success_keeps_counts_and_marks_failing(tmp_path):
    state = SyncState.load(tmp_path)
    state.record_success("global", "iam.user", items=5, api_calls=2, when=T0)
    assert not state.is_failing("global", "iam.user")
    state.record_failure("global", "iam.user", "Throttling", when=T0 + timedelta(hours=1))
    entry = state.slices()["global/iam.user"]
    assert (entry["items"], entry["last_error"]) == (5, "Throttling")
    assert entry["last_success"] == "2024-01-02T03:04:05Z"
    assert entry["last_attempt"] == "2024-01-02T04:04:05Z"
    assert state.is_failing("global", "iam.user")
    assert state.has_succeeded("global", "iam.user")
    state.record_success("global", "iam.user", items=6, api_calls=2, when=T0 + timedelta(hours=2))
    assert not state.is_failing("global", "iam.user")


def test_stale_lists_old_and_never_successful_slices(tmp_path):
    state = SyncState.load(tmp_path)
    state.record_success("global", "iam.user", items=1, api_calls=1, when=T0)
    state.record_success("us-east-1", "s3.bucket", items=1, api_calls=1, when=T0 + timedelta(hours=23))
    state.record_failure("eu-west-1", "ec2.instance", "timeout", when=T0)
    assert state.stale(T0 + timedelta(hours=25), timedelta(hours=24)) == [
        "eu-west-1/ec2.instance", "global/iam.user",
    ]
    assert state.stale(T0 + timedelta(hours=1), timedelta(hours=24)) == ["eu-west-1/ec2.instance"]


def test_slice_key_rejects_slashes(tmp_path):
    state = SyncState.load(tmp_path)
    with pytest.raises(ValueError, match="region"):
        state.record_success("us/east", "iam.user", items=0, api_calls=0, when=T0)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"slices": {"x": 1}}',
                                     b'{"slices": {"a/b": {"last_success": "yesterday"}}}'])
def test_corrupt_state_is_moved_aside_not_fatal(tmp_path, content):
    (tmp_path / "state.json").write_bytes(content)
    with pytest.warns(CorruptStateWarning, match="state.json"):
        state = SyncState.load(tmp_path)
    assert state.slices() == {}
    assert state.warnings and "moved to state.json.corrupt-" in state.warnings[0]
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    state.record_success("global", "iam.user", items=1, api_calls=1, when=T0)
    state.save()
    assert SyncState.load(tmp_path).has_succeeded("global", "iam.user")


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "f.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_ephemeral_store_round_trip(tmp_path):
    store = EphemeralStore.load(tmp_path)
    path = "items/global/iam/user/alice.json"
    store.update(path, {"PasswordLastUsed": "2024-01-01T00:00:00Z", "AccessKeys.0.LastUsedDate": None})
    store.update("items/global/iam/user/bob.json", {"PasswordLastUsed": "2023-12-01T00:00:00Z"})
    store.save()

    loaded = EphemeralStore.load(tmp_path)
    assert loaded.get(path) == {"PasswordLastUsed": "2024-01-01T00:00:00Z", "AccessKeys.0.LastUsedDate": None}
    assert loaded.paths() == [path, "items/global/iam/user/bob.json"]
    loaded.update(path, {"PasswordLastUsed": "2024-02-01T00:00:00Z"})
    assert loaded.get(path) == {"PasswordLastUsed": "2024-02-01T00:00:00Z"}
    loaded.remove("items/global/iam/user/bob.json")
    loaded.update(path, {})
    assert loaded.get(path) == {} and loaded.paths() == []
    loaded.get("items/none.json")["x"] = 1
    assert loaded.get("items/none.json") == {}


def test_ephemeral_store_rejects_non_json_values(tmp_path):
    store = EphemeralStore.load(tmp_path)
    with pytest.raises(TypeError, match=r"items/a\.json"):
        store.update("items/a.json", {"When": datetime.now(UTC)})


def test_corrupt_ephemeral_file_starts_empty(tmp_path):
    (tmp_path / "ephemeral.json").write_text('{"items/a.json": 3}')
    with pytest.warns(CorruptStateWarning):
        store = EphemeralStore.load(tmp_path)
    assert store.paths() == []
    assert list(tmp_path.glob("ephemeral.json.corrupt-*"))


def test_secret_key_is_created_once_private_and_stable(tmp_path):
    key = secret_key(tmp_path)
    assert len(key) == 32
    assert secret_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]
    assert secret_key(tmp_path / "other") != key


def test_truncated_secret_key_is_an_error_not_a_new_key(tmp_path):
    (tmp_path / "secret.key").write_bytes(b"short")
    with pytest.raises(ValueError, match="5 bytes, expected 32"):
        secret_key(tmp_path)
    assert (tmp_path / "secret.key").read_bytes() == b"short"
