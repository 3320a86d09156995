"""AWS Account Management watcher: the account's alternate contacts, as one global posture item
(``account.alternate_contacts``, id and name ``account``).

Three calls per account: GetAlternateContact for ``BILLING``, ``OPERATIONS`` and ``SECURITY``
(the API has no call that returns all three). ``ResourceNotFoundException`` means that contact is
not set: it is recorded as ``null``, so ``{"AlternateContacts": {"SECURITY": null, ...}}`` is an
ordinary item whose issue is "no security contact", and ``git log`` shows when a contact was set,
changed or removed. A set contact is AWS's ``AlternateContact``: ``Name``, ``Title``,
``EmailAddress``, ``PhoneNumber``, ``AlternateContactType``.

**AccessDenied fails the slice and keeps the file.** A member account of an organization whose
management account has not enabled trusted access for AWS Account Management (or whose SCPs deny
``account:GetAlternateContact``) gets ``AccessDeniedException``: that is not "no contact", so the
read raises, as every failed read does; the item's history stays as it was and ``status`` shows
the failed slice until access is granted or the technology is left out for that account
(``technologies:``).

**Personal data, not secrets.** Names, e-mail addresses and phone numbers of people are personal
data, but they grant no access, anyone who may read the account's settings sees them, and what
matters about them for security is exactly their value: redirecting the security contact to an
address the attacker controls is a step of an account takeover, and a reviewer must be able to
read where AWS now sends its abuse and compromise notices. A keyed hash would hide that, so they
are recorded as AWS returns them. Recommend aliases and shared numbers (as CIS does); where even
those must stay out of git, leave the technology out (``technologies:``).
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import call_or_absent, posture_item

CONTACT_TYPES = ("BILLING", "OPERATIONS", "SECURITY")
NOT_SET = ("ResourceNotFoundException",)


def list_alternate_contacts(ctx: SliceContext) -> list[Item]:
    """The account's alternate contacts: one item, a contact that is not set is ``null``."""
    client = ctx.client("account")
    contacts: dict[str, Any] = {}
    for contact_type in CONTACT_TYPES:
        answer = call_or_absent(client.get_alternate_contact, NOT_SET, AlternateContactType=contact_type)
        contacts[contact_type] = None if answer is None else dict(answer["AlternateContact"])
    return [posture_item(ctx, "account.alternate_contacts", {"AlternateContacts": contacts})]


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="account.alternate_contacts",
        is_global=True,
        list_items=list_alternate_contacts,
        description=(
            "The account's alternate contacts (one item per account): the billing, operations "
            "and security contacts AWS writes to (name, title, e-mail, phone), null when not set."
        ),
        always_returned={"account:GetAlternateContact": ("AlternateContact",)},
        iam_actions=("account:GetAlternateContact",),
    ),
)
