"""S3 Glacier watcher: vaults, with their access policy, vault lock and tags.

One paginated ListVaults per region (1,000 vaults a page; it carries everything DescribeVault would,
so that call is not made), then three calls per vault on a small thread pool: GetVaultAccessPolicy,
GetVaultLock and ListTagsForVault.

- ``Policy`` is the vault access policy, decoded; ``null`` when the vault has none (Glacier says
  ``ResourceNotFoundException``). It is the document the resource-policy rules read.
- ``VaultLock`` is the vault lock (``Policy`` decoded, ``State`` InProgress or Locked,
  ``CreationDate``, ``ExpirationDate`` of an InProgress lock); ``null`` when there is none (also
  ``ResourceNotFoundException``). An InProgress lock that is not completed within 24 hours is
  removed by Glacier itself: that removal is a real change of the vault's protection.
- ``Tags`` is ListTagsForVault's map (AWS documents an empty map for a vault without tags).

A vault deleted after the listing gives ``ResourceNotFoundException`` on every per-vault call. For
the policy and the lock that code also means "none", so ListTagsForVault, which has no "none" case,
is made last: its ``ResourceNotFoundException`` drops the vault (recorded as deleted), and a vault
that answered it existed when its policy and lock were read.

``LastInventoryDate``, ``NumberOfArchives`` and ``SizeInBytes`` are ephemeral: Glacier updates them
about daily from its inventory, with no configuration change. Glacier's dates are strings in its
API (``2024-01-01T00:00:00.000Z``) and are kept as AWS returns them.

One vault is read again (``get_item``) with four calls: ListVaults, which is one call, since a
region holds at most 1,000 vaults (Glacier's quota) and a page is 1,000, and which answers the very
record the listing records (DescribeVault would too, as another IAM action); then the three per-vault
calls. A vault that ListVaults does not list does not exist.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers._common import (
    call_or_absent,
    collect,
    decode_policy,
    describe_each,
    is_error,
    partition,
)

VAULT_WORKERS = 8
# "No access policy" / "no vault lock" (GetVaultAccessPolicy, GetVaultLock: 404 Not Found).
ABSENT_CODES = ("ResourceNotFoundException",)
# The vault was deleted after the listing (ListTagsForVault has no "none" answer).
GONE_CODES = ("ResourceNotFoundException",)
# Glacier's own "use the caller's account" value for the required accountId parameter.
ACCOUNT = "-"
# ListVaults' largest page (the REST reference's maximum; the SDKs document a default of 10). The
# model types it as a string.
PAGE_SIZE = "1000"

_EPHEMERAL = ("LastInventoryDate", "NumberOfArchives", "SizeInBytes")


def _access_policy(glacier: Any, name: str) -> Any:
    response = call_or_absent(
        glacier.get_vault_access_policy, ABSENT_CODES, accountId=ACCOUNT, vaultName=name
    )
    if response is None:
        return None
    # The answer's body is the {"Policy": "..."} structure itself, which botocore puts under
    # "policy" even when the body is empty: without the text, the answer is unreadable, not "no policy".
    text = (response.get("policy") or {}).get("Policy")
    if text is None:
        raise UnreadableResponseError("glacier", "GetVaultAccessPolicy", "no Policy in the answer")
    return decode_policy(text)


def _vault_lock(glacier: Any, name: str) -> dict[str, Any] | None:
    response = call_or_absent(glacier.get_vault_lock, ABSENT_CODES, accountId=ACCOUNT, vaultName=name)
    if response is None:
        return None
    lock = dict(response)
    lock["Policy"] = decode_policy(lock.get("Policy"))
    return lock


def _vaults(ctx: SliceContext) -> list[dict[str, Any]]:
    return collect(ctx.client("glacier"), "list_vaults", "VaultList", accountId=ACCOUNT, limit=PAGE_SIZE)


def _describe(ctx: SliceContext, vault: dict[str, Any]) -> Item:
    glacier = ctx.client("glacier")
    name = vault["VaultName"]
    policy = _access_policy(glacier, name)
    lock = _vault_lock(glacier, name)
    tags = glacier.list_tags_for_vault(accountId=ACCOUNT, vaultName=name).get("Tags") or {}
    configuration = {key: value for key, value in vault.items() if key != "VaultARN"}
    configuration.update(Policy=policy, VaultLock=lock, Tags=dict(tags))
    arn = vault.get("VaultARN") or (
        f"arn:{partition(ctx.client_region)}:glacier:{ctx.region}:{ctx.account_id}:vaults/{name}"
    )
    return Item("glacier.vault", ctx.region, name, name, arn, configuration)


def list_vaults(ctx: SliceContext) -> list[Item]:
    return describe_each(
        lambda vault: _describe(ctx, vault), _vaults(ctx), workers=VAULT_WORKERS, name="glacier-vault",
        gone=GONE_CODES,
    )


def get_vault(ctx: SliceContext, name: str) -> Item | None:
    """The vault ``name``; None when ListVaults does not list it, or ListTagsForVault says it is gone."""
    vaults = [vault for vault in _vaults(ctx) if vault.get("VaultName") == name]
    if not vaults:
        return None
    if len(vaults) > 1:
        raise ValueError(f"ListVaults listed {len(vaults)} vaults named {name!r}")
    try:
        return _describe(ctx, vaults[0])
    except ClientError as exc:
        if is_error(exc, *GONE_CODES):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="glacier.vault",
        is_global=False,
        list_items=list_vaults,
        get_item=get_vault,
        description=(
            "S3 Glacier vaults: creation date, the vault access policy (decoded; who may read, upload, "
            "delete or retrieve archives), the vault lock (policy and state, InProgress or Locked), "
            "tags. Archive count, size and inventory date are ephemeral."
        ),
        ephemeral_paths=_EPHEMERAL,
        always_returned={
            "glacier:ListVaults": ("VaultList",),
            "glacier:GetVaultLock": ("Policy", "State"),
            "glacier:ListTagsForVault": ("Tags",),
        },
        iam_actions=(
            "glacier:ListVaults",
            "glacier:GetVaultAccessPolicy",
            "glacier:GetVaultLock",
            "glacier:ListTagsForVault",
        ),
    ),
)
