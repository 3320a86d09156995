"""Route 53 Domains watchers: domains registered through Route 53 (global; the API lives in
us-east-1): ListDomains (100 a page), then GetDomainDetail per domain, on a small thread pool.

Configuration: the GetDomainDetail answer as AWS spells it (name servers, auto-renew, privacy
flags, registrar, DNSSEC, creation and expiration dates, the four contacts), plus:
- ``TransferLock``, from the domain's ListDomains entry (GetDomainDetail only shows it as the
  ``clientTransferProhibited`` status);
- ``LockStatuses``: the entries of AWS's ``StatusList`` that are locks or holds (``client*`` /
  ``server*`` ``...Prohibited`` and ``...Hold``), sorted. ``StatusList`` itself is ephemeral: it
  also carries the EPP grace-period and pending statuses (``autoRenewPeriod``, ``addPeriod``,
  ``pendingTransfer``...) that come and go with renewals and transfers on the registry's clock.

``UpdatedDate`` is ephemeral (every change shows in the field that changed). ``ExpirationDate`` is
**not**: it moves only when the domain is renewed (by auto-renew or by hand, a billed registrar
action, at most about once a year), and that commit is the record that the renewal happened; a
domain whose expected yearly commit does not come is a domain about to lapse. It also keeps the
expiry in the document, where a rule can read it.

Contacts are personal data (a private registrant's name, address, phone and e-mail). They are
kept for all four contacts, because a changed registrant or admin e-mail is how a domain is
hijacked, but every personal value is a secret path: git gets a keyed hash, so a change is
visible and the value is not stored. ``ContactType``, ``OrganizationName`` and ``CountryCode`` stay
in clear, as do ``ExtraParams`` names (their values, e.g. birth dates or document numbers that some
TLDs require, are hashed). Security Monkey kept the admin and registrant contacts in clear.

Route 53 Domains has no ARN (IAM cannot name a domain), so the item's ARN is empty. A domain that
GetDomainDetail no longer knows (``InvalidInput``) is skipped only if a second ListDomains no longer
lists it (transferred out or deleted since the first listing); otherwise the read fails.

One domain is read again (``get_item``) with ListDomains filtered on names beginning with the
domain's (its ``TransferLock`` is in the listing only; the exact name is picked, so
``example.com.au`` is not taken for ``example.com``) and GetDomainDetail: two calls, three when
GetDomainDetail says InvalidInput and the filtered listing is read again, as the listing does. A
domain that the filtered ListDomains does not list is not registered in the account.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, is_error

DETAIL_WORKERS = 2  # the API allows five requests per second per account
LIST_PAGE = {"PageSize": 100}  # ListDomains' maximum (its default is 20)
UNKNOWN_DOMAIN = ("InvalidInput",)
CONTACTS = ("AdminContact", "RegistrantContact", "TechContact", "BillingContact")
PERSONAL_FIELDS = (
    "FirstName",
    "LastName",
    "AddressLine1",
    "AddressLine2",
    "City",
    "State",
    "ZipCode",
    "PhoneNumber",
    "Email",
    "Fax",
)
_LOCK_SUFFIXES = ("Prohibited", "Hold")
_TRANSFER_LOCK = "clientTransferProhibited"


def lock_statuses(status_list: list[str] | None) -> list[str]:
    """The lock and hold statuses of an EPP status list, sorted."""
    return sorted({status for status in status_list or () if status.endswith(_LOCK_SUFFIXES)})


def _item(summary: dict[str, Any], detail: dict[str, Any], region: str) -> Item:
    name = detail.get("DomainName") or summary["DomainName"]
    configuration = dict(detail)
    transfer_lock = summary.get("TransferLock")
    if transfer_lock is None:
        transfer_lock = _TRANSFER_LOCK in (detail.get("StatusList") or ())
    configuration["TransferLock"] = bool(transfer_lock)
    configuration["LockStatuses"] = lock_statuses(detail.get("StatusList"))
    return Item("route53domains.domain", region, name, name, "", configuration)


def _summaries(ctx: SliceContext, **params: Any) -> list[dict[str, Any]]:
    return collect(
        ctx.client("route53domains"), "list_domains", "Domains", PaginationConfig=LIST_PAGE, **params
    )


def _summary(ctx: SliceContext, name: str) -> dict[str, Any] | None:
    """``name``'s ListDomains entry, from the domains whose name begins with it."""
    beginning = [{"Name": "DomainName", "Operator": "BEGINS_WITH", "Values": [name]}]
    entries = [entry for entry in _summaries(ctx, FilterConditions=beginning) if entry["DomainName"] == name]
    if len(entries) > 1:
        raise ValueError(f"ListDomains listed {name!r} {len(entries)} times")
    return entries[0] if entries else None


def _describe(ctx: SliceContext, summary: dict[str, Any]) -> Item:
    detail = ctx.client("route53domains").get_domain_detail(DomainName=summary["DomainName"])
    detail.pop("ResponseMetadata", None)
    return _item(summary, detail, ctx.region)


def list_domains(ctx: SliceContext) -> list[Item]:
    """Every domain registered in the account; a failed read of any domain fails the listing."""
    summaries = _summaries(ctx)
    unknown: dict[str, ClientError] = {}
    lock = threading.Lock()

    def describe(summary: dict[str, Any]) -> Item | None:
        try:
            return _describe(ctx, summary)
        except ClientError as exc:
            if not is_error(exc, *UNKNOWN_DOMAIN):
                raise
            with lock:
                unknown[summary["DomainName"]] = exc
            return None

    items = describe_each(describe, summaries, workers=DETAIL_WORKERS, name="route53domains-domain")
    if unknown:
        # InvalidInput also means a malformed request; only a domain that has left the account is gone.
        still_listed = {entry["DomainName"] for entry in _summaries(ctx)}
        for name, exc in sorted(unknown.items()):
            if name in still_listed:
                raise exc
    return items


def get_domain(ctx: SliceContext, name: str) -> Item | None:
    summary = _summary(ctx, name)
    if summary is None:
        return None
    try:
        return _describe(ctx, summary)
    except ClientError as exc:
        # InvalidInput also means a malformed request: only a domain no longer listed is gone.
        if is_error(exc, *UNKNOWN_DOMAIN) and _summary(ctx, name) is None:
            return None
        raise


_SECRET = tuple(
    path
    for contact in CONTACTS
    for path in (*(f"{contact}.{field}" for field in PERSONAL_FIELDS), f"{contact}.ExtraParams.*.Value")
)


TECHNOLOGIES = (
    Technology(
        name="route53domains.domain",
        is_global=True,
        list_items=list_domains,
        get_item=get_domain,
        description=(
            "Domains registered with Route 53: transfer lock and other EPP locks, auto-renew, "
            "expiration date, WHOIS privacy per contact, name servers and glue records, DNSSEC "
            "keys, registrar; the admin, registrant, technical and billing contacts with their "
            "personal values (names, addresses, phone numbers, e-mails) as keyed hashes."
        ),
        ephemeral_paths=("UpdatedDate", "StatusList"),
        secret_paths=_SECRET,
        unordered_paths=("Nameservers", "Nameservers.*.GlueIps", "DnssecKeys"),
        always_returned={
            "route53domains:ListDomains": ("Domains",),
            "route53domains:GetDomainDetail": ("DomainName",),
        },
        iam_actions=("route53domains:ListDomains", "route53domains:GetDomainDetail"),
    ),
)
