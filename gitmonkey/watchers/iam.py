"""IAM watchers: users, roles, groups, customer-managed policies, server certificates, SAML providers.

One paginated GetAccountAuthorizationDetails, shared by the four technologies through
``ctx.shared``, gives nearly everything. Roles take ``MaxSessionDuration`` and ``Description``
from one paginated ListRoles.

Users cost one call each (ListAccessKeys: AWS has no account-wide key listing, and the credential
report only has two key slots); account-wide reads carry what per-user calls carried before:

- The credential report (GenerateCredentialReport + GetCredentialReport, shared with
  ``iam.root``) gives each user's ``password_enabled``, ``password_last_changed``,
  ``password_last_used`` and ``mfa_active``, and the last use of each key slot.
- One paginated ListVirtualMFADevices(AssignmentStatus=Assigned) gives every virtual MFA device
  assigned in the account with its ``User`` and ``EnableDate``.

AWS facts this rests on (IAM API reference and User Guide): ListVirtualMFADevices lists the
*virtual* MFA devices of the account only; passkeys and security keys (FIDO) and hardware TOTP
tokens are other MFA types, which only the per-user ListMFADevices lists ("all the MFA devices
associated with the specified user"); a user may have up to eight MFA devices of any mix of
types. The credential report's ``mfa_active`` is true when the user has any MFA device enabled,
``password_enabled`` when the user has a console password; IAM generates a new report at most
once every four hours (an older report is returned until then), so the report is as of its
generation time. The report never holds the virtual devices' seeds, nor does this module record
the ``Base32StringSeed`` / ``QRCodePNG`` members that the virtual device structure can carry.

Per user, therefore:

- ``MFADevices`` = the user's assigned virtual devices (live). Only for a user with no assigned
  virtual device does ListMFADevices run, and only when the report does not say
  ``mfa_active=false`` (a report row that is the user's, with a readable value): it lists the
  hardware and FIDO devices. The definition is the same on both paths (report row or per-user
  fallback), so a read from the report and a per-user read of the same state record the same
  list: no commit flaps when a user moves from one path to the other. Consequence, a deliberate
  one: a non-virtual device of a user who *also* has a virtual device is not listed (such a user
  has MFA either way); existing repositories see that device leave ``MFADevices`` once.
- ``LoginProfile`` = ``null`` when the report says ``password_enabled=false``, else
  ``{"PasswordLastChanged": <password_last_changed>}`` (ephemeral, so the committed document is
  ``{}``: only the presence of a console password is history, as before, and a fallback read,
  whose date is the login profile's ``CreateDate``, commits nothing different). GetLoginProfile
  runs only for a user the report cannot speak for (no row, a row of an earlier user of the same
  name, or an unreadable ``password_enabled``): users created after the report.
  ``LoginProfile.CreateDate`` and ``LoginProfile.PasswordResetRequired`` are no longer recorded
  (the report has neither): existing repositories see each console user's ``LoginProfile``
  change once to ``{}``. The existing rules test only that ``LoginProfile`` is present.
- Access keys: ListAccessKeys (live); last use from the report slot whose ``last_rotated`` is the
  key's creation second, else GetAccessKeyLastUsed (a key newer than the report, or two keys
  created in the same second).

Freshness: what is read live (users, policies, groups, access keys, virtual MFA devices) is
current. What the report says is as of its generation: a console password set or removed, or a
hardware/FIDO device enabled with no virtual device, after the report was generated is recorded
at the first sync after IAM regenerates it (every sync asks for a report, and IAM makes a new one
once the last is four hours old), as one ordinary change, never as a flap. A report that says
``mfa_active=true`` is always checked live (ListMFADevices), so a removed device is never
recorded as present; a user created after the report is read entirely live.

One item read again by id (``get_item``, after a CloudTrail event) builds the same document from
per-entity calls instead of the account-wide GetAccountAuthorizationDetails: GetUser / GetRole /
GetGroup (whose ``Users`` are the members the listing derives from every user's groups) /
GetPolicy, with the entity's inline policies (List*Policies, Get*Policy each), attached policies,
and a user's groups or a role's instance profiles; a policy's versions from ListPolicyVersions. A
user also needs the credential report and the account's assigned virtual MFA devices: the getter
reads both again (two or three calls, and one ListVirtualMFADevices page per 100 assigned devices)
instead of taking ``ctx.shared``'s copy, which a long-lived listener's session would keep stale.

Server certificates and SAML providers are listed and then read one by one. Neither records a
large public document as such: a certificate is recorded by its SHA-256 fingerprint (of the DER,
as ``openssl x509 -fingerprint -sha256`` prints it) and, when ``cryptography``
package is importable, by facts parsed from it (subject, issuer, key, signature hash, names,
validity); a SAML metadata document by its SHA-256 and its entityID. The private key of a
server certificate is never returned by AWS.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers import _iam_aws_policies, _iam_instance_profiles
from gitmonkey.watchers._common import (
    call_or_absent,
    collect,
    decode_policy,
    describe_each,
    is_error,
    pages,
    partition,
    posture_item,
    tags_dict,
)

try:  # optional: moto depends on it, gitmonkey does not (see _parsed_certificate)
    from cryptography import x509 as _x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
except ImportError:  # pragma: no cover - the fallback is tested by setting _x509 to None
    _x509 = None

_NOT_FOUND = ("NoSuchEntity",)
_GAAD_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_GAAD_FILTER = ["User", "Role", "Group", "LocalManagedPolicy"]

# Seconds to wait between GenerateCredentialReport calls while the report is being built; the
# first retry is immediate because AWS (and moto) usually finish within one round trip.
REPORT_POLL_DELAYS: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
_sleep = time.sleep

_REPORT_EMPTY = {"N/A", "no_information", "not_supported", ""}


class CredentialReportNotReady(RuntimeError):
    """The credential report was still being generated after bounded polling."""


def authorization_details(ctx: SliceContext) -> dict[str, list[dict[str, Any]]]:
    """The account's users, roles, groups and local managed policies (one shared, paginated call)."""

    def fetch() -> dict[str, list[dict[str, Any]]]:
        merged: dict[str, list[dict[str, Any]]] = {key: [] for key in _GAAD_KEYS}
        for page in pages(ctx.client("iam"), "get_account_authorization_details", Filter=_GAAD_FILTER):
            for key in _GAAD_KEYS:
                merged[key].extend(page.get(key) or [])
        return merged

    return ctx.shared(("iam", "authorization_details"), fetch)


def credential_report(ctx: SliceContext) -> dict[str, dict[str, str]]:
    """The credential report's rows keyed by user name (generated if needed, bounded polling),
    read once per sync."""
    return ctx.shared(("iam", "credential_report"), lambda: read_credential_report(ctx))


def read_credential_report(ctx: SliceContext) -> dict[str, dict[str, str]]:
    """The credential report, read now (not the sync's shared copy)."""
    iam = ctx.client("iam")
    for delay in (*REPORT_POLL_DELAYS, None):
        if iam.generate_credential_report().get("State") == "COMPLETE":
            break
        if delay is None:
            waited = sum(REPORT_POLL_DELAYS)
            raise CredentialReportNotReady(f"IAM credential report not COMPLETE after {waited:g} s")
        if delay:
            _sleep(delay)
    content = iam.get_credential_report()["Content"]
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return {row["user"]: row for row in csv.DictReader(io.StringIO(text)) if row.get("user")}


def _report_time(value: str | None) -> datetime | None:
    if value is None or value in _REPORT_EMPTY:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _same_second(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and int(a.timestamp()) == int(b.timestamp())


def _inline_policies(policies: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    decoded = [
        {"PolicyName": p["PolicyName"], "PolicyDocument": decode_policy(p.get("PolicyDocument"))}
        for p in policies or ()
    ]
    return sorted(decoded, key=lambda p: p["PolicyName"])


def _attached(policies: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return sorted(policies or (), key=lambda p: p.get("PolicyArn", ""))


def _common_fields(detail: dict[str, Any], kind: str) -> dict[str, Any]:
    fields = {
        "Path": detail.get("Path"),
        f"{kind}Name": detail[f"{kind}Name"],
        f"{kind}Id": detail.get(f"{kind}Id"),
        "Arn": detail["Arn"],
        "CreateDate": detail.get("CreateDate"),
        "AttachedManagedPolicies": _attached(detail.get("AttachedManagedPolicies")),
    }
    if kind != "Group":
        fields["Tags"] = tags_dict(detail.get("Tags"))
        fields["PermissionsBoundary"] = detail.get("PermissionsBoundary")
    return fields


def _report_prefix(row: dict[str, str] | None, created: datetime | None) -> str | None:
    """The report columns of the key created at ``created``; ``None`` if absent or ambiguous.

    The report names keys only by slot (1, 2) and creation time ("last rotated").
    """
    if row is None:
        return None
    slots = [
        f"access_key_{n}_"
        for n in (1, 2)
        if _same_second(_report_time(row.get(f"access_key_{n}_last_rotated")), created)
    ]
    return slots[0] if len(slots) == 1 else None


def _access_keys(iam: Any, user: str, row: dict[str, str] | None) -> list[dict[str, Any]]:
    keys = []
    for meta in collect(iam, "list_access_keys", "AccessKeyMetadata", UserName=user):
        key: dict[str, Any] = {
            "AccessKeyId": meta["AccessKeyId"],
            "Status": meta.get("Status"),
            "CreateDate": meta.get("CreateDate"),
        }
        prefix = _report_prefix(row, key["CreateDate"])
        if row is not None and prefix is not None:
            used = _report_time(row.get(f"{prefix}last_used_date"))
            service, region = row.get(f"{prefix}last_used_service"), row.get(f"{prefix}last_used_region")
        else:
            last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"]).get("AccessKeyLastUsed", {})
            used, service, region = last.get("LastUsedDate"), last.get("ServiceName"), last.get("Region")
        if used is not None:
            key["LastUsedDate"] = used
        if service and service not in _REPORT_EMPTY:
            key["LastUsedService"] = service
        if region and region not in _REPORT_EMPTY:
            key["LastUsedRegion"] = region
        keys.append(key)
    return sorted(keys, key=lambda k: k["AccessKeyId"])


def _report_bool(row: dict[str, str] | None, column: str) -> bool | None:
    """A boolean column of the user's report row; ``None`` without a row or with another value
    (the caller then asks AWS per user instead of guessing)."""
    value = (row or {}).get(column)
    value = value.strip().lower() if isinstance(value, str) else None
    return {"true": True, "false": False}.get(value or "")


class VirtualMFA:
    """The account's assigned virtual MFA devices, by the ARN of the user they are assigned to.

    ``unattributed``: an assigned device came without its ``User``; no user can then be said to
    have no virtual device, so every user without one is asked per user (ListMFADevices).
    """

    def __init__(self, devices: list[dict[str, Any]]) -> None:
        self.by_user: dict[str, list[dict[str, Any]]] = {}
        self.unattributed = False
        for device in devices:
            arn = (device.get("User") or {}).get("Arn")
            if not arn:
                self.unattributed = True
                continue
            entry = {"SerialNumber": device["SerialNumber"], "EnableDate": device.get("EnableDate")}
            self.by_user.setdefault(arn, []).append(entry)


def assigned_virtual_mfa(ctx: SliceContext) -> VirtualMFA:
    """Every virtual MFA device assigned in the account (one paginated ListVirtualMFADevices,
    shared by iam.user and iam.root)."""
    return ctx.shared(("iam", "virtual_mfa"), lambda: read_virtual_mfa(ctx))


def read_virtual_mfa(ctx: SliceContext) -> VirtualMFA:
    """The account's assigned virtual MFA devices, read now (not the sync's shared copy)."""
    iam = ctx.client("iam")
    devices = collect(iam, "list_virtual_mfa_devices", "VirtualMFADevices", AssignmentStatus="Assigned")
    return VirtualMFA(devices)


def _mfa_devices(
    iam: Any, detail: dict[str, Any], row: dict[str, str] | None, virtual: VirtualMFA
) -> list[dict[str, Any]]:
    """The user's assigned virtual devices; without one, ListMFADevices unless the report (the
    user's own row) says ``mfa_active=false``. See the module docstring for why."""
    assigned = virtual.by_user.get(detail["Arn"])
    if assigned:
        devices = assigned
    elif not virtual.unattributed and _report_bool(row, "mfa_active") is False:
        devices = []
    else:
        devices = [
            {"SerialNumber": d["SerialNumber"], "EnableDate": d.get("EnableDate")}
            for d in collect(iam, "list_mfa_devices", "MFADevices", UserName=detail["UserName"])
        ]
    return sorted(devices, key=lambda d: d["SerialNumber"])


def _login_profile(iam: Any, name: str, row: dict[str, str] | None) -> dict[str, Any] | None:
    """``None`` without a console password, else ``{"PasswordLastChanged": ...}`` (ephemeral):
    from the report, or GetLoginProfile for a user the report cannot speak for."""
    enabled = _report_bool(row, "password_enabled")
    if enabled is None:
        answer = call_or_absent(iam.get_login_profile, ("NoSuchEntity",), UserName=name)
        if answer is None:
            return None
        changed = answer["LoginProfile"].get("CreateDate")
    elif enabled:
        changed = _report_time((row or {}).get("password_last_changed"))
    else:
        return None
    return {} if changed is None else {"PasswordLastChanged": changed}


def _user_item(
    ctx: SliceContext, detail: dict[str, Any], row: dict[str, str] | None, virtual: VirtualMFA
) -> Item:
    iam = ctx.client("iam")  # in the worker thread, so that its calls count to this slice
    name = detail["UserName"]
    configuration = _common_fields(detail, "User")
    configuration["UserPolicyList"] = _inline_policies(detail.get("UserPolicyList"))
    configuration["GroupList"] = sorted(detail.get("GroupList") or ())
    # First, so that a user deleted since the account-wide read fails here with NoSuchEntity.
    configuration["AccessKeys"] = _access_keys(iam, name, row)
    configuration["MFADevices"] = _mfa_devices(iam, detail, row, virtual)
    configuration["LoginProfile"] = _login_profile(iam, name, row)
    password_used = _report_time(row.get("password_last_used")) if row else None
    if password_used is not None:
        configuration["PasswordLastUsed"] = password_used
    return Item("iam.user", ctx.region, name, name, detail["Arn"], configuration)


def _report_row(report: dict[str, dict[str, str]], detail: dict[str, Any]) -> dict[str, str] | None:
    """The user's report row, unless it belongs to an earlier user of the same name."""
    row = report.get(detail["UserName"])
    if row is None or row.get("arn") != detail["Arn"]:
        return None
    if not _same_second(_report_time(row.get("user_creation_time")), detail.get("CreateDate")):
        return None
    return row


# Per-user reads run on a small pool: IAM's request rate is account-wide and modest.
USER_WORKERS = 4


def list_users(ctx: SliceContext) -> list[Item]:
    """Every IAM user: the shared account-wide reads, then one ListAccessKeys per user (plus the
    fallbacks of the module docstring). A user deleted since the account-wide read (NoSuchEntity
    from its per-user calls) is left out; any other failure raises."""
    details = authorization_details(ctx)["UserDetailList"]
    if not details:
        return []
    report = credential_report(ctx)
    virtual = assigned_virtual_mfa(ctx)
    return describe_each(
        lambda detail: _user_item(ctx, detail, _report_row(report, detail), virtual),
        details,
        workers=USER_WORKERS,
        name="iam-user",
        gone=("NoSuchEntity",),
    )


def _exists(call: Callable[..., dict[str, Any]], **params: Any) -> bool:
    return call_or_absent(call, _NOT_FOUND, **params) is not None


def _unless_gone(read: Callable[[], Item | None], exists: Callable[[], bool]) -> Item | None:
    """``read()``, or ``None`` when one of its later calls said NoSuchEntity and the entity is
    indeed gone (``exists()``); an inline policy or version deleted meanwhile raises instead."""
    try:
        return read()
    except ClientError as exc:
        if is_error(exc, *_NOT_FOUND) and not exists():
            return None
        raise


def _inline_policy_list(iam: Any, kind: str, name: str) -> list[dict[str, Any]]:
    """The entity's inline policies as GetAccountAuthorizationDetails spells them
    (``{"PolicyName", "PolicyDocument"}``): ListUserPolicies, then GetUserPolicy per policy."""
    key = {f"{kind}Name": name}
    get = getattr(iam, f"get_{kind.lower()}_policy")
    return [
        {"PolicyName": policy, "PolicyDocument": get(**key, PolicyName=policy)["PolicyDocument"]}
        for policy in collect(iam, f"list_{kind.lower()}_policies", "PolicyNames", **key)
    ]


def _attached_policy_list(iam: Any, kind: str, name: str) -> list[dict[str, Any]]:
    return collect(iam, f"list_attached_{kind.lower()}_policies", "AttachedPolicies", **{f"{kind}Name": name})


def get_user(ctx: SliceContext, name: str) -> Item | None:
    """One user, read live: GetUser, its inline policies (ListUserPolicies + GetUserPolicy each),
    attached policies and groups build the document GetAccountAuthorizationDetails gives; then
    the same per-user reads as the listing, with the credential report and the virtual MFA
    devices read now (not through ``ctx.shared``: a listener's session outlives one sync)."""
    iam = ctx.client("iam")

    def read() -> Item | None:
        answer = call_or_absent(iam.get_user, _NOT_FOUND, UserName=name)
        if answer is None or answer["User"]["UserName"] != name:
            return None
        detail = {
            **answer["User"],
            "UserPolicyList": _inline_policy_list(iam, "User", name),
            "AttachedManagedPolicies": _attached_policy_list(iam, "User", name),
            "GroupList": [group["GroupName"] for group in collect(iam, "list_groups_for_user", "Groups",
                                                                   UserName=name)],
        }
        report = read_credential_report(ctx)
        return _user_item(ctx, detail, _report_row(report, detail), read_virtual_mfa(ctx))

    return _unless_gone(read, lambda: _exists(iam.get_user, UserName=name))


def list_roles(ctx: SliceContext) -> list[Item]:
    details = authorization_details(ctx)["RoleDetailList"]
    if not details:
        return []
    iam = ctx.client("iam")
    summaries = {r["RoleName"]: r for r in collect(iam, "list_roles", "Roles")}
    items = []
    for detail in details:
        name = detail["RoleName"]
        summary = summaries.get(name)
        if summary is None:
            fetched = call_or_absent(iam.get_role, _NOT_FOUND, RoleName=name)
            if fetched is None:
                continue
            summary = fetched["Role"]
        items.append(_role_item(ctx, detail, summary))
    return items


def _role_item(ctx: SliceContext, detail: dict[str, Any], summary: dict[str, Any]) -> Item:
    """``detail``: the role as GetAccountAuthorizationDetails spells it; ``summary``: its
    ListRoles (or GetRole) entry, which alone carries the description and session duration."""
    name = detail["RoleName"]
    configuration = _common_fields(detail, "Role")
    configuration.update(
        {
            "AssumeRolePolicyDocument": decode_policy(detail.get("AssumeRolePolicyDocument")),
            "Description": summary.get("Description", ""),
            "MaxSessionDuration": summary.get("MaxSessionDuration"),
            "RolePolicyList": _inline_policies(detail.get("RolePolicyList")),
            "InstanceProfileList": sorted(
                (
                    {k: p.get(k) for k in ("InstanceProfileName", "InstanceProfileId", "Arn", "Path")}
                    for p in detail.get("InstanceProfileList") or ()
                ),
                key=lambda p: p["InstanceProfileName"] or "",
            ),
            "RoleLastUsed": detail.get("RoleLastUsed") or {},
        }
    )
    return Item("iam.role", ctx.region, name, name, detail["Arn"], configuration)


def get_role(ctx: SliceContext, name: str) -> Item | None:
    """One role: GetRole, its inline policies (ListRolePolicies + GetRolePolicy each), attached
    policies and instance profiles (ListInstanceProfilesForRole)."""
    iam = ctx.client("iam")

    def read() -> Item | None:
        answer = call_or_absent(iam.get_role, _NOT_FOUND, RoleName=name)
        if answer is None or answer["Role"]["RoleName"] != name:
            return None
        role = answer["Role"]
        detail = {
            **role,
            "RolePolicyList": _inline_policy_list(iam, "Role", name),
            "AttachedManagedPolicies": _attached_policy_list(iam, "Role", name),
            "InstanceProfileList": collect(iam, "list_instance_profiles_for_role", "InstanceProfiles",
                                           RoleName=name),
        }
        return _role_item(ctx, detail, role)

    return _unless_gone(read, lambda: _exists(iam.get_role, RoleName=name))


def list_groups(ctx: SliceContext) -> list[Item]:
    details = authorization_details(ctx)
    members: dict[str, list[str]] = {}
    for user in details["UserDetailList"]:
        for group in user.get("GroupList") or ():
            members.setdefault(group, []).append(user["UserName"])
    groups = details["GroupDetailList"]
    return [_group_item(ctx, detail, members.get(detail["GroupName"], [])) for detail in groups]


def _group_item(ctx: SliceContext, detail: dict[str, Any], users: list[str]) -> Item:
    name = detail["GroupName"]
    configuration = _common_fields(detail, "Group")
    configuration["GroupPolicyList"] = _inline_policies(detail.get("GroupPolicyList"))
    configuration["Users"] = sorted(users)
    return Item("iam.group", ctx.region, name, name, detail["Arn"], configuration)


def get_group(ctx: SliceContext, name: str) -> Item | None:
    """One group: GetGroup (its members, the listing's ``Users`` derived from every user's
    groups), its inline policies (ListGroupPolicies + GetGroupPolicy each) and attached policies."""
    iam = ctx.client("iam")

    def read() -> Item | None:
        try:
            answers = pages(iam, "get_group", GroupName=name)
        except ClientError as exc:
            if is_error(exc, *_NOT_FOUND):
                return None
            raise
        group = answers[0]["Group"]
        if group["GroupName"] != name:
            return None
        detail = {
            **group,
            "GroupPolicyList": _inline_policy_list(iam, "Group", name),
            "AttachedManagedPolicies": _attached_policy_list(iam, "Group", name),
        }
        users = [user["UserName"] for answer in answers for user in answer["Users"]]
        return _group_item(ctx, detail, users)

    return _unless_gone(read, lambda: _exists(iam.get_group, GroupName=name, MaxItems=1))


def _version_number(version_id: str) -> tuple[int, str]:
    digits = version_id.lstrip("v")
    return (int(digits) if digits.isdigit() else -1, version_id)


def list_policies(ctx: SliceContext) -> list[Item]:
    return [_policy_item(ctx, detail) for detail in authorization_details(ctx)["Policies"]]


def _policy_item(ctx: SliceContext, detail: dict[str, Any]) -> Item:
    """``detail``: the policy as GetAccountAuthorizationDetails spells it; without the default
    version's document in its ``PolicyVersionList``, GetPolicyVersion reads it."""
    arn = detail["Arn"]
    name = detail.get("PolicyName") or arn.rsplit("/", 1)[-1]
    versions = detail.get("PolicyVersionList") or []
    default_id = detail.get("DefaultVersionId")
    document = next((v.get("Document") for v in versions if v.get("VersionId") == default_id), None)
    if document is None and default_id:
        version = ctx.client("iam").get_policy_version(PolicyArn=arn, VersionId=default_id)
        document = version["PolicyVersion"].get("Document")
    configuration = {
        "PolicyName": name,
        "PolicyId": detail.get("PolicyId"),
        "Arn": arn,
        "Path": detail.get("Path"),
        "Description": detail.get("Description", ""),
        "IsAttachable": detail.get("IsAttachable"),
        "CreateDate": detail.get("CreateDate"),
        "UpdateDate": detail.get("UpdateDate"),
        "DefaultVersionId": default_id,
        "Document": decode_policy(document),
        "VersionIds": sorted((v["VersionId"] for v in versions), key=_version_number),
        "AttachmentCount": detail.get("AttachmentCount", 0),
        "PermissionsBoundaryUsageCount": detail.get("PermissionsBoundaryUsageCount", 0),
    }
    return Item("iam.policy", ctx.region, name, name, arn, configuration)


def _local_policy(iam: Any, ctx: SliceContext, name: str) -> dict[str, Any] | None:
    """GetPolicy of the customer-managed policy named ``name``. The id is the name, the call
    wants the ARN, which holds the policy's path: first the root path (one call), else the
    account's policies are listed (ListPolicies, Scope=Local, up to 1,000 a page) for its ARN."""
    arn = f"arn:{partition(ctx.client_region)}:iam::{ctx.account_id}:policy/{name}"
    answer = call_or_absent(iam.get_policy, _NOT_FOUND, PolicyArn=arn)
    if answer is None:
        listed = collect(iam, "list_policies", "Policies", Scope="Local", PaginationConfig={"PageSize": 1000})
        arn = next((p["Arn"] for p in listed if p.get("PolicyName") == name), "")
        answer = call_or_absent(iam.get_policy, _NOT_FOUND, PolicyArn=arn) if arn else None
    if answer is None or answer["Policy"].get("PolicyName") != name:
        return None
    return answer["Policy"]


def get_policy(ctx: SliceContext, name: str) -> Item | None:
    """One customer-managed policy: GetPolicy (see ``_local_policy``), ListPolicyVersions and
    GetPolicyVersion of the default version."""
    iam = ctx.client("iam")
    arn = ""

    def read() -> Item | None:
        nonlocal arn
        policy = _local_policy(iam, ctx, name)
        if policy is None:
            return None
        arn = policy["Arn"]
        versions = collect(iam, "list_policy_versions", "Versions", PolicyArn=arn)
        return _policy_item(ctx, {**policy, "PolicyVersionList": versions})

    return _unless_gone(read, lambda: not arn or _exists(iam.get_policy, PolicyArn=arn))


_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_ENTITY_ID = re.compile(r"""<(?:[A-Za-z_][\w.-]*:)?EntityDescriptor\b[^>]*?\sentityID\s*=\s*(["'])(.*?)\1""")


def _certificate_ders(pem: str | None) -> list[bytes]:
    """The DER bytes of each certificate of a PEM text (a body or a chain); [] if there are none."""
    ders = []
    for block in _PEM_CERTIFICATE.findall(pem or ""):
        try:
            ders.append(base64.b64decode("".join(block.split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return ders


def _fingerprints(pem: str | None) -> list[str]:
    """``sha256:<hex>`` of each certificate's DER; a text without a decodable PEM block is hashed
    as text (``sha256-text:<hex>``), so that a change is still visible."""
    ders = _certificate_ders(pem)
    if ders:
        return [f"sha256:{hashlib.sha256(der).hexdigest()}" for der in ders]
    if not pem:
        return []
    return [f"sha256-text:{hashlib.sha256(pem.encode('utf-8')).hexdigest()}"]


def _key_facts(key: Any) -> tuple[str, int | None]:
    kinds = (
        (rsa.RSAPublicKey, "RSA"),
        (ec.EllipticCurvePublicKey, "EC"),
        (dsa.DSAPublicKey, "DSA"),
        (ed25519.Ed25519PublicKey, "Ed25519"),
        (ed448.Ed448PublicKey, "Ed448"),
    )
    kind = next((name for cls, name in kinds if isinstance(key, cls)), type(key).__name__)
    return kind, getattr(key, "key_size", None)


def _parsed_certificate(der: bytes | None) -> dict[str, Any] | None:
    """Facts of a certificate, ``None`` without ``cryptography``; ``{"Parseable": False}`` when the
    certificate cannot be parsed."""
    if _x509 is None:
        return None
    try:
        cert = _x509.load_der_x509_certificate(der or b"")
        key_type, key_size = _key_facts(cert.public_key())
        try:
            signature_hash = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            signature_hash = None
        try:
            san = cert.extensions.get_extension_for_class(_x509.SubjectAlternativeName).value
            names = sorted(san.get_values_for_type(_x509.DNSName))
        except _x509.ExtensionNotFound:
            names = []
        common_names = cert.subject.get_attributes_for_oid(_x509.oid.NameOID.COMMON_NAME)
        return {
            "Parseable": True,
            "Subject": cert.subject.rfc4514_string(),
            "CommonName": str(common_names[0].value) if common_names else None,
            "Issuer": cert.issuer.rfc4514_string(),
            "SerialNumber": format(cert.serial_number, "x"),
            "NotBefore": cert.not_valid_before_utc,
            "NotAfter": cert.not_valid_after_utc,
            "SignatureAlgorithmOid": cert.signature_algorithm_oid.dotted_string,
            "SignatureHashAlgorithm": signature_hash.name if signature_hash is not None else None,
            "KeyType": key_type,
            "KeySize": key_size,
            "SubjectAlternativeNames": names,
        }
    except (ValueError, _x509.DuplicateExtension, _x509.UnsupportedGeneralNameType, UnsupportedAlgorithm):
        return {"Parseable": False}


def _server_certificate_item(ctx: SliceContext, iam: Any, name: str) -> Item | None:
    """The certificate named ``name`` (one GetServerCertificate); ``None`` when there is none."""
    fetched = call_or_absent(iam.get_server_certificate, _NOT_FOUND, ServerCertificateName=name)
    if fetched is None:  # deleted between the listing and now
        return None
    certificate = fetched["ServerCertificate"]
    meta = certificate["ServerCertificateMetadata"]
    if meta["ServerCertificateName"] != name:
        return None
    body_ders = _certificate_ders(certificate.get("CertificateBody"))
    fingerprints = _fingerprints(certificate.get("CertificateBody"))
    configuration = {
        "ServerCertificateName": meta["ServerCertificateName"],
        "ServerCertificateId": meta.get("ServerCertificateId"),
        "Path": meta.get("Path"),
        "Arn": meta["Arn"],
        "UploadDate": meta.get("UploadDate"),
        "Expiration": meta.get("Expiration"),
        "Fingerprint": fingerprints[0] if fingerprints else None,
        "ChainFingerprints": _fingerprints(certificate.get("CertificateChain")),
        "Certificate": _parsed_certificate(body_ders[0] if body_ders else None),
        "Tags": tags_dict(certificate.get("Tags")),
    }
    return Item("iam.server_certificate", ctx.region, name, name, meta["Arn"], configuration)


def list_server_certificates(ctx: SliceContext) -> list[Item]:
    iam = ctx.client("iam")
    listed = collect(iam, "list_server_certificates", "ServerCertificateMetadataList")
    items = (_server_certificate_item(ctx, iam, meta["ServerCertificateName"]) for meta in listed)
    return [item for item in items if item is not None]


def get_server_certificate(ctx: SliceContext, name: str) -> Item | None:
    return _server_certificate_item(ctx, ctx.client("iam"), name)


def _saml_provider_item(ctx: SliceContext, iam: Any, entry: dict[str, Any]) -> Item | None:
    arn = entry["Arn"]
    provider = call_or_absent(iam.get_saml_provider, _NOT_FOUND, SAMLProviderArn=arn)
    if provider is None:  # deleted between the listing and now
        return None
    document = provider.get("SAMLMetadataDocument") or ""
    entity = _ENTITY_ID.search(document)
    name = arn.rsplit("/", 1)[-1]
    configuration = {
        "Name": name,
        "Arn": arn,
        "SAMLProviderUUID": provider.get("SAMLProviderUUID"),
        "CreateDate": provider.get("CreateDate") or entry.get("CreateDate"),
        "ValidUntil": provider.get("ValidUntil") or entry.get("ValidUntil"),
        "EntityId": entity.group(2) if entity else None,
        "MetadataDocumentSha256": hashlib.sha256(document.encode("utf-8")).hexdigest() if document else None,
        "AssertionEncryptionMode": provider.get("AssertionEncryptionMode"),
        # Only the ids and dates of the decryption keys: AWS never returns the keys themselves.
        "PrivateKeyList": [
            {"KeyId": key.get("KeyId"), "Timestamp": key.get("Timestamp")}
            for key in provider.get("PrivateKeyList") or ()
        ],
        "Tags": tags_dict(provider.get("Tags")),
    }
    return Item("iam.saml_provider", ctx.region, name, name, arn, configuration)


def list_saml_providers(ctx: SliceContext) -> list[Item]:
    iam = ctx.client("iam")
    listed = iam.list_saml_providers().get("SAMLProviderList") or []
    items = (_saml_provider_item(ctx, iam, entry) for entry in listed)
    return [item for item in items if item is not None]


def get_saml_provider(ctx: SliceContext, name: str) -> Item | None:
    """One GetSAMLProvider. A provider has no path, so its ARN is made from the name; the
    listing's entry adds nothing GetSAMLProvider does not give (its dates are fallbacks)."""
    if not name or "/" in name:
        return None
    arn = f"arn:{partition(ctx.client_region)}:iam::{ctx.account_id}:saml-provider/{name}"
    return _saml_provider_item(ctx, ctx.client("iam"), {"Arn": arn})


_GAAD_ACTION = "iam:GetAccountAuthorizationDetails"
_POLICY_LISTS = ("AttachedManagedPolicies",)


def _entity_reads(kind: str) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The always-returned members and the actions of a getter's inline and attached policy reads."""
    returned = {
        f"iam:List{kind}Policies": ("PolicyNames",),
        f"iam:ListAttached{kind}Policies": ("AttachedPolicies",),
    }
    actions = (f"iam:List{kind}Policies", f"iam:Get{kind}Policy", f"iam:ListAttached{kind}Policies")
    return returned, actions


_USER_RETURNED, _USER_ACTIONS = _entity_reads("User")
_ROLE_RETURNED, _ROLE_ACTIONS = _entity_reads("Role")
_GROUP_RETURNED, _GROUP_ACTIONS = _entity_reads("Group")

TECHNOLOGIES = (
    Technology(
        name="iam.user",
        is_global=True,
        list_items=list_users,
        get_item=get_user,
        description=(
            "IAM users: access keys, MFA devices (virtual ones account-wide; hardware and FIDO ones "
            "for users without a virtual device), console password (from the credential report), "
            "inline and attached policies, groups, tags, permissions boundary."
        ),
        ephemeral_paths=(
            "PasswordLastUsed",
            "LoginProfile.PasswordLastChanged",
            "AccessKeys.*.LastUsedDate",
            "AccessKeys.*.LastUsedService",
            "AccessKeys.*.LastUsedRegion",
        ),
        unordered_paths=(*_POLICY_LISTS, "UserPolicyList", "GroupList", "AccessKeys", "MFADevices"),
        always_returned={
            "iam:GetAccountAuthorizationDetails": (
                "UserDetailList", "RoleDetailList", "GroupDetailList", "Policies",
            ),
            "iam:GetCredentialReport": ("Content",),
            "iam:ListVirtualMFADevices": ("VirtualMFADevices",),
            "iam:ListAccessKeys": ("AccessKeyMetadata",),
            "iam:ListMFADevices": ("MFADevices",),
            "iam:GetLoginProfile": ("LoginProfile",),
            "iam:GetUser": ("User",),
            "iam:ListGroupsForUser": ("Groups",),
            **_USER_RETURNED,
        },
        iam_actions=(
            _GAAD_ACTION,
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:ListVirtualMFADevices",
            "iam:ListAccessKeys",
            "iam:GetAccessKeyLastUsed",
            "iam:ListMFADevices",
            "iam:GetLoginProfile",
            "iam:GetUser",
            "iam:ListGroupsForUser",
            *_USER_ACTIONS,
        ),
    ),
    Technology(
        name="iam.role",
        is_global=True,
        list_items=list_roles,
        get_item=get_role,
        description=(
            "IAM roles: trust policy, inline and attached policies, instance profiles, tags, "
            "permissions boundary, maximum session duration."
        ),
        ephemeral_paths=("RoleLastUsed",),
        unordered_paths=(*_POLICY_LISTS, "RolePolicyList", "InstanceProfileList"),
        always_returned={
            "iam:ListRoles": ("Roles",),
            "iam:GetRole": ("Role",),
            "iam:ListInstanceProfilesForRole": ("InstanceProfiles",),
            **_ROLE_RETURNED,
        },
        iam_actions=(
            _GAAD_ACTION, "iam:ListRoles", "iam:GetRole", "iam:ListInstanceProfilesForRole", *_ROLE_ACTIONS,
        ),
    ),
    Technology(
        name="iam.group",
        is_global=True,
        list_items=list_groups,
        get_item=get_group,
        description="IAM groups: inline and attached policies, member users, path.",
        unordered_paths=(*_POLICY_LISTS, "GroupPolicyList", "Users"),
        always_returned={"iam:GetGroup": ("Group", "Users"), **_GROUP_RETURNED},
        iam_actions=(_GAAD_ACTION, "iam:GetGroup", *_GROUP_ACTIONS),
    ),
    Technology(
        name="iam.policy",
        is_global=True,
        list_items=list_policies,
        get_item=get_policy,
        description=(
            "Customer-managed IAM policies: default version and its document, attachment and "
            "permissions-boundary usage counts, path, description."
        ),
        # Counters move when *another* item (a user, role or group) changes, which is recorded there.
        ephemeral_paths=("AttachmentCount", "PermissionsBoundaryUsageCount"),
        unordered_paths=(),
        always_returned={
            "iam:GetPolicy": ("Policy",),
            "iam:ListPolicyVersions": ("Versions",),
            "iam:ListPolicies": ("Policies",),
            "iam:GetPolicyVersion": ("PolicyVersion",),
        },
        iam_actions=(
            _GAAD_ACTION,
            "iam:GetPolicyVersion",
            "iam:GetPolicy",
            "iam:ListPolicyVersions",
            "iam:ListPolicies",
        ),
    ),
    Technology(
        name="iam.server_certificate",
        is_global=True,
        list_items=list_server_certificates,
        get_item=get_server_certificate,
        description=(
            "IAM server certificates: path, upload date, expiration, SHA-256 fingerprints of the "
            "certificate and its chain, parsed subject, issuer, names, key and signature hash (with "
            "the optional cryptography package), tags. Never the private key."
        ),
        unordered_paths=("Certificate.SubjectAlternativeNames",),
        always_returned={
            "iam:ListServerCertificates": ("ServerCertificateMetadataList",),
            "iam:GetServerCertificate": ("ServerCertificate",),
        },
        iam_actions=("iam:ListServerCertificates", "iam:GetServerCertificate"),
    ),
    Technology(
        name="iam.saml_provider",
        is_global=True,
        list_items=list_saml_providers,
        get_item=get_saml_provider,
        description=(
            "IAM SAML identity providers: entity id and SHA-256 of the metadata document, valid-until "
            "and creation dates, assertion encryption mode, decryption key ids, tags."
        ),
        unordered_paths=("PrivateKeyList",),
        always_returned={
            "iam:ListSAMLProviders": ("SAMLProviderList",),
        },
        iam_actions=("iam:ListSAMLProviders", "iam:GetSAMLProvider"),
    ),
)


# --- account posture: the password policy and the root user -------------------------------------
#
# Both are items that always exist (id ``account``): an absent password policy is recorded as
# ``"PasswordPolicy": null``, so that "no policy" is an ordinary issue with a history in git.

ROOT_REPORT_USER = "<root_account>"
# GetAccountSummary keys that describe the root user; the rest of SummaryMap are counts and quotas.
ROOT_SUMMARY_KEYS = ("AccountMFAEnabled", "AccountAccessKeysPresent", "AccountSigningCertificatesPresent")
# Credential report columns of the root row recorded as booleans ("true" / "false" in the CSV).
ROOT_REPORT_FLAGS = (
    "mfa_active", "access_key_1_active", "access_key_2_active", "cert_1_active", "cert_2_active",
)
# Columns that change whenever root signs in or uses a key: ephemeral, recorded only when a date.
ROOT_REPORT_LAST_USED = ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")


def list_password_policy(ctx: SliceContext) -> list[Item]:
    """The account password policy (one GetAccountPasswordPolicy); ``None`` when the account has
    none (IAM answers NoSuchEntity, the default of a new account)."""
    answer = call_or_absent(ctx.client("iam").get_account_password_policy, ("NoSuchEntity",))
    policy = None if answer is None else dict(answer["PasswordPolicy"])
    configuration = {"PasswordPolicy": policy}
    return [posture_item(ctx, "iam.password_policy", configuration)]


def _report_flag(row: dict[str, str], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value not in ("true", "false"):
        why = f"root row has {column}={row.get(column)!r}"
        raise UnreadableResponseError("iam", "GetCredentialReport", why)
    return value == "true"


def report_field(column: str) -> str:
    """The recorded name of a credential report column: ``access_key_1_active`` -> ``AccessKey1Active``
    (recorded paths are CamelCase, like AWS's JSON members)."""
    return "".join(part.capitalize() for part in column.split("_"))


def _root_report(row: dict[str, str] | None) -> dict[str, Any] | None:
    """The root row of the credential report: flags as booleans, last-use dates when they are
    dates. ``None`` when the report has no root row (moto's report has none; AWS's always has)."""
    if row is None:
        return None
    fields: dict[str, Any] = {"Arn": row.get("arn")}
    fields.update({report_field(column): _report_flag(row, column) for column in ROOT_REPORT_FLAGS})
    for column in ROOT_REPORT_LAST_USED:
        used = _report_time(row.get(column))
        if used is not None:
            fields[report_field(column)] = used
    return fields


def list_root(ctx: SliceContext) -> list[Item]:
    """The root user: its MFA, access key and signing certificate flags from GetAccountSummary,
    and the root row of the credential report (shared with ``iam.user``: generated once a sync)."""
    summary = ctx.client("iam").get_account_summary()["SummaryMap"]
    missing = [key for key in ROOT_SUMMARY_KEYS if key not in summary]
    if missing:
        raise UnreadableResponseError("iam", "GetAccountSummary", f"SummaryMap lacks {', '.join(missing)}")
    configuration: dict[str, Any] = {key: summary[key] for key in ROOT_SUMMARY_KEYS}
    configuration["CredentialReport"] = _root_report(credential_report(ctx).get(ROOT_REPORT_USER))
    arn = f"arn:{partition(ctx.client_region)}:iam::{ctx.account_id}:root"
    # CIS 1.6 / FSBP IAM.6 want a hardware device: a virtual one assigned to root says it is not.
    configuration["VirtualMFA"] = (
        bool(assigned_virtual_mfa(ctx).by_user.get(arn)) if summary.get("AccountMFAEnabled") else None
    )
    return [posture_item(ctx, "iam.root", configuration, arn)]


TECHNOLOGIES = (
    *TECHNOLOGIES,
    *_iam_aws_policies.TECHNOLOGIES,
    *_iam_instance_profiles.TECHNOLOGIES,
    Technology(
        name="iam.password_policy",
        is_global=True,
        list_items=list_password_policy,
        description=(
            "The account's IAM password policy (one item, id `account`): minimum length, required "
            "character classes, reuse prevention, expiry, whether users may change their password; "
            "`PasswordPolicy: null` when the account has none."
        ),
        always_returned={"iam:GetAccountPasswordPolicy": ("PasswordPolicy",)},
        iam_actions=("iam:GetAccountPasswordPolicy",),
    ),
    Technology(
        name="iam.root",
        is_global=True,
        list_items=list_root,
        description=(
            "The account's root user (one item, id `account`): MFA, access keys and signing "
            "certificates present (GetAccountSummary), whether its MFA device is a virtual one "
            "(`VirtualMFA`, null without MFA), and the credential report's root row as "
            "CamelCase fields (MFA, access keys and certificates active; last sign-in and key use, "
            "ephemeral); `CredentialReport: null` when the report has no root row (moto)."
        ),
        ephemeral_paths=tuple(f"CredentialReport.{report_field(column)}" for column in ROOT_REPORT_LAST_USED),
        always_returned={
            "iam:GetAccountSummary": ("SummaryMap",),
            "iam:GetCredentialReport": ("Content",),
            "iam:ListVirtualMFADevices": ("VirtualMFADevices",),
        },
        iam_actions=(
            "iam:GetAccountSummary",
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:ListVirtualMFADevices",
        ),
    ),
)
