"""EC2 compute technologies (listed in ``ec2.TECHNOLOGIES``): instances, Elastic IPs, network
interfaces, key pairs and EBS volumes, one region at a time.

Calls per region: one paginated DescribeInstances, DescribeAddresses, paginated
DescribeNetworkInterfaces, DescribeKeyPairs and paginated DescribeVolumes. The only per-item call
is DescribeInstanceAttribute(userData), one per instance (see "User data" below). One item is read
by its id (``get_item``) with the same Describe call by id and the same item builder: 2 calls for
an instance (1 when it is terminated or terminating: not an item), 1 for the others.

Each item's configuration is the record as AWS returns it (every field, so that a field AWS adds
later is tracked without a code change), with the tag list as a ``Tags`` object. What is
configuration and what is not is decided per field below; the test for each decision is
``tests/test_watchers_ec2_compute.py``.

**Instances: what a stop and a start change, and why none of it is configuration.** An
autoscaled or scheduled fleet stops, starts and re-addresses its instances all day; Security
Monkey committed every one of those moves (its issue #1068). Stopping and starting an instance
changes, in AWS:

- ``State``, ``StateReason``, ``StateTransitionReason`` (which carries the time of the stop):
  the life cycle, not the configuration. Ephemeral.
- ``LaunchTime``: AWS sets it to the time of the *last* start, so every start moves it.
  Ephemeral. (The instance's creation shows in the history as the item's first commit; a
  replaced instance has a new id, so it is a new item.)
- ``PublicIpAddress`` and ``PublicDnsName``, and the ``Association`` of each network interface
  and of each of its private addresses (``PublicIp``, ``PublicDnsName``, ``IpOwnerId``): an
  auto-assigned public IPv4 address is released at the stop and a new one is given at the
  start. Ephemeral. An Elastic IP keeps its address, but its association is recorded on the
  ``ec2.elastic_ip`` item, where it is configuration. The ``ec2.instance.public-ip`` rule
  reads the address the last sync saw (ephemeral values are merged back before the audit).
- ``Placement.HostId``: with host affinity ``default`` a dedicated-host instance may come back
  on another host. Ephemeral; ``Tenancy``, ``Affinity``, ``GroupName`` and the host resource
  group stay configuration.
- ``CapacityReservationId``: with an ``open`` preference the instance runs in whichever open
  reservation matches at start. Ephemeral; ``CapacityReservationSpecification`` (the choice)
  is configuration.
- Nothing else. The private IPv4 and IPv6 addresses, and so ``PrivateDnsName``, are kept by a
  VPC instance across a stop (EC2-Classic, where they changed, is retired), so they are
  configuration: a change of them means a new interface or address.

Status fields that move without anybody changing anything are ephemeral too: the attach time
and status of each network interface and EBS mapping (``NetworkInterfaces.*.Attachment.AttachTime``
/ ``.Status``, ``NetworkInterfaces.*.Status``, ``BlockDeviceMappings.*.Ebs.AttachTime`` /
``.Status``), ``MetadataOptions.State`` (whether a change of the metadata options is applied
yet), ``UsageOperationUpdateTime`` (the time of a change that ``UsageOperation`` itself
records), and the state and time of the (retired) Elastic GPU and Elastic Inference
associations. Configuration includes, among the rest: type, image, key pair, subnet, VPC,
security groups (sorted: their order is not defined), interfaces and volumes (which ones, and
``DeleteOnTermination``), ``MetadataOptions`` (``HttpTokens``, ``HttpEndpoint``,
``HttpPutResponseHopLimit``, ...: IMDSv1 or v2), ``IamInstanceProfile`` (``Arn``, ``Id``),
``Monitoring.State`` (detailed monitoring enabled or not), ``CpuOptions``,
``HibernationOptions``, ``EnclaveOptions``, ``MaintenanceOptions``, the reservation's
``OwnerId``, ``RequesterId`` (Auto Scaling, for example) and ``ReservationId``.

Instances in state ``terminated`` are not items (AWS lists them for about an hour after
they are gone), nor are those ``shutting-down``: termination cannot be undone from there, so
the first sync that sees it records the deletion, and reads no user data for them.

**User data** is a secret: it often carries bootstrap passwords and tokens. It is recorded as
``UserData`` (the base64 text AWS returns, ``null`` when there is none), a ``secret_paths``
entry: git gets a keyed hash, so a change is visible and the value is not. AWS has no bulk read
of user data: DescribeInstanceAttribute(userData) answers for one instance, so it costs one call
per instance (on a pool of 8 threads; none in a region without instances, none for a
terminated or terminating instance). Cheaper options considered:

- the launch template's user data (one DescribeLaunchTemplateVersions per template version,
  shared by a whole fleet): not authoritative, since an instance's user data can be changed
  after launch (ModifyInstanceAttribute while it is stopped);
- skipping the call for an instance that has been running since the last read: AWS only lets
  user data change while the instance is stopped, so a running instance whose ``LaunchTime`` is
  the one of the previous read still has the same user data. That would make the call per
  *started* instance rather than per instance, but needs the previous sync's state, which a
  watcher does not get; it is the optimisation to make if watchers are given it.

**Elastic IPs** (id = ``AllocationId``; ``PublicIp`` for an EC2-Classic address, which has none;
name = the ``Name`` tag, else the public IP). Security Monkey declared the association
(``InstanceId``, ``NetworkInterfaceId``, ``NetworkInterfaceOwnerId``, ``AssociationId``,
``PrivateIpAddress``) ephemeral (and never honoured it). Here it is configuration: an Elastic
IP is a fixed public address that DNS records and partners' allow-lists point at, so moving it
to another instance or interface changes what the internet reaches at that address, and it
only moves when somebody calls AssociateAddress / DisassociateAddress (a VPC address stays
associated through a stop and start). The association fields are always present, ``null`` when
the address is not associated.

**Network interfaces** (id = ``eni-…``). Every interface of the region is an item, including
the requester-managed ones (``RequesterManaged: true``) that AWS services create in the
account's subnets: Lambda, load balancers, NAT gateways, VPC endpoints, EKS, RDS. They matter
(their security groups decide what reaches those services), but some come and go with the
service: a load balancer that scales adds and removes interfaces, and each is a commit. The
attachment (which instance, device index, ``DeleteOnTermination``) is configuration; its time
and status, the interface ``Status`` (``in-use`` / ``available`` follows the attachment), and
the public address ``Association`` / ``PublicDnsName`` (auto-assigned addresses change at an
instance's stop and start; Elastic IP associations are on the ``ec2.elastic_ip`` item) are
ephemeral.

**Key pairs** (id = the key name: it is what instances name in ``KeyName``, and it cannot be
renamed; a key deleted and imported again under the same name then reads as a change of
``KeyPairId``, ``KeyFingerprint`` and ``CreateTime``, which is what an auditor wants to see).
The ARN uses ``KeyPairId``. The public key itself is not read (the fingerprint identifies it).

**EBS volumes** (id = ``vol-…``): size, type, IOPS, throughput, encryption and KMS key, the
snapshot it was made from, multi-attach, and the attachments (instance, device,
``DeleteOnTermination``). ``State`` and each attachment's ``AttachTime`` and ``State`` are
ephemeral; attaching a volume to another instance is a change.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, ec2_arn, is_error, tagged_item, tags_dict
from gitmonkey.watchers._ec2_vpc import describe_one, the_one, unless_gone

INSTANCE_WORKERS = 8
# Instance states that are not items: termination cannot be undone from either.
ENDED_STATES = ("shutting-down", "terminated")
# DescribeInstances by id, or DescribeInstanceAttribute on an instance that has disappeared since
# the listing.
INSTANCE_GONE = ("InvalidInstanceID.NotFound",)
# The "does not exist" error codes of the Describe calls by id (an Elastic IP by its allocation id,
# or by its public IP when it has none).
ADDRESS_GONE = ("InvalidAllocationID.NotFound", "InvalidAddress.NotFound")
NETWORK_INTERFACE_GONE = ("InvalidNetworkInterfaceID.NotFound",)
KEY_PAIR_GONE = ("InvalidKeyPair.NotFound",)
VOLUME_GONE = ("InvalidVolume.NotFound",)
# An Elastic IP's association: always recorded, null when the address is not associated.
ADDRESS_ASSOCIATION_FIELDS = (
    "AssociationId",
    "InstanceId",
    "NetworkInterfaceId",
    "NetworkInterfaceOwnerId",
    "PrivateIpAddress",
)

_INTERFACE_LISTS = ("Groups", "PrivateIpAddresses", "Ipv6Addresses", "Ipv4Prefixes", "Ipv6Prefixes")


# --- instances ---------------------------------------------------------------------------------


def _user_data(ctx: SliceContext, instance_id: str) -> str | None:
    """The instance's user data as AWS returns it (base64 text), or None when it has none."""
    answer = ctx.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return (answer.get("UserData") or {}).get("Value") or None


def instance_item(ctx: SliceContext, reservation: dict[str, Any], instance: dict[str, Any]) -> Item:
    """One instance: its DescribeInstances record, its reservation's owner and requester, and its
    user data (one DescribeInstanceAttribute call)."""
    instance_id = instance["InstanceId"]
    owner = reservation.get("OwnerId") or ctx.account_id
    configuration = {key: value for key, value in instance.items() if key != "Tags"}
    configuration["SecurityGroups"] = instance.get("SecurityGroups") or []
    configuration["OwnerId"] = owner
    configuration["RequesterId"] = reservation.get("RequesterId")
    configuration["ReservationId"] = reservation.get("ReservationId")
    configuration["UserData"] = _user_data(ctx, instance_id)
    arn = ec2_arn(ctx, owner, f"instance/{instance_id}")
    return tagged_item(ctx, "ec2.instance", instance_id, arn, configuration, instance.get("Tags"))


def _instance_listed(instance: dict[str, Any]) -> bool:
    return (instance.get("State") or {}).get("Name") not in ENDED_STATES


def list_instances(ctx: SliceContext) -> list[Item]:
    """Every instance of the region that is not terminated or terminating; the user data reads
    run on a pool of ``INSTANCE_WORKERS`` threads."""
    listed = [
        (reservation, instance)
        for reservation in collect(ctx.client("ec2"), "describe_instances", "Reservations")
        for instance in reservation.get("Instances") or []
        if _instance_listed(instance)
    ]
    return describe_each(
        lambda entry: instance_item(ctx, *entry),
        listed,
        workers=INSTANCE_WORKERS,
        name="ec2-instance",
        gone=INSTANCE_GONE,
    )


def get_instance(ctx: SliceContext, instance_id: str) -> Item | None:
    try:
        answer = ctx.client("ec2").describe_instances(InstanceIds=[instance_id])
    except ClientError as exc:
        if is_error(exc, *INSTANCE_GONE):
            return None
        raise
    entries = [
        (reservation, instance)
        for reservation in answer.get("Reservations") or []
        for instance in reservation.get("Instances") or []
    ]
    entry = the_one(entries, instance_id, lambda pair: pair[1].get("InstanceId"), "DescribeInstances")
    if entry is None or not _instance_listed(entry[1]):
        return None
    return unless_gone(lambda: instance_item(ctx, *entry), INSTANCE_GONE)


# --- Elastic IPs -------------------------------------------------------------------------------


def _address_id(address: dict[str, Any]) -> str:
    """The allocation id; the public IP for an EC2-Classic address, which has none."""
    return address.get("AllocationId") or address.get("PublicIp") or ""


def address_item(ctx: SliceContext, address: dict[str, Any]) -> Item:
    public_ip = address.get("PublicIp") or ""
    ident = _address_id(address)
    configuration = {key: value for key, value in address.items() if key != "Tags"}
    for key in ADDRESS_ASSOCIATION_FIELDS:
        configuration[key] = address.get(key) or None
    arn = ec2_arn(ctx, ctx.account_id, f"elastic-ip/{ident}")
    return tagged_item(ctx, "ec2.elastic_ip", ident, arn, configuration, address.get("Tags"), name=public_ip)


def list_elastic_ips(ctx: SliceContext) -> list[Item]:
    answer = ctx.client("ec2").describe_addresses()
    return [address_item(ctx, address) for address in answer.get("Addresses") or []]


def get_elastic_ip(ctx: SliceContext, ident: str) -> Item | None:
    """By allocation id; an id that is not one (``eipalloc-``) is the public IP of an EC2-Classic
    address. A VPC address found by its public IP is the item of its allocation id, so the item
    of that IP does not exist."""
    if ident.startswith("eipalloc-"):
        by, field = {"AllocationIds": [ident]}, "AllocationId"
    else:
        by, field = {"PublicIps": [ident]}, "PublicIp"
    address = describe_one(ctx.client("ec2"), "describe_addresses", "Addresses", field, ident,
                           gone=ADDRESS_GONE, **by)
    if address is None or _address_id(address) != ident:
        return None
    return address_item(ctx, address)


# --- network interfaces ------------------------------------------------------------------------


def network_interface_item(ctx: SliceContext, interface: dict[str, Any]) -> Item:
    interface_id = interface["NetworkInterfaceId"]
    owner = interface.get("OwnerId") or ctx.account_id
    configuration = {key: value for key, value in interface.items() if key != "TagSet"}
    arn = ec2_arn(ctx, owner, f"network-interface/{interface_id}")
    tags = interface.get("TagSet")
    return tagged_item(ctx, "ec2.network_interface", interface_id, arn, configuration, tags)


def list_network_interfaces(ctx: SliceContext) -> list[Item]:
    return [
        network_interface_item(ctx, interface)
        for interface in collect(ctx.client("ec2"), "describe_network_interfaces", "NetworkInterfaces")
    ]


def get_network_interface(ctx: SliceContext, interface_id: str) -> Item | None:
    interface = describe_one(
        ctx.client("ec2"), "describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId",
        interface_id, gone=NETWORK_INTERFACE_GONE, NetworkInterfaceIds=[interface_id],
    )
    return None if interface is None else network_interface_item(ctx, interface)


# --- key pairs ---------------------------------------------------------------------------------


def key_pair_item(ctx: SliceContext, key_pair: dict[str, Any]) -> Item:
    name = key_pair["KeyName"]
    configuration = {key: value for key, value in key_pair.items() if key not in ("Tags", "PublicKey")}
    configuration["Tags"] = tags_dict(key_pair.get("Tags"))
    resource = key_pair.get("KeyPairId") or name
    return Item(
        technology="ec2.key_pair",
        region=ctx.region,
        id=name,
        name=name,
        arn=ec2_arn(ctx, ctx.account_id, f"key-pair/{resource}"),
        configuration=configuration,
    )


def list_key_pairs(ctx: SliceContext) -> list[Item]:
    answer = ctx.client("ec2").describe_key_pairs()
    return [key_pair_item(ctx, key_pair) for key_pair in answer.get("KeyPairs") or []]


def get_key_pair(ctx: SliceContext, name: str) -> Item | None:
    key_pair = describe_one(
        ctx.client("ec2"), "describe_key_pairs", "KeyPairs", "KeyName", name,
        gone=KEY_PAIR_GONE, KeyNames=[name],
    )
    return None if key_pair is None else key_pair_item(ctx, key_pair)


# --- EBS volumes -------------------------------------------------------------------------------


def volume_item(ctx: SliceContext, volume: dict[str, Any]) -> Item:
    volume_id = volume["VolumeId"]
    owner = volume.get("OwnerId") or ctx.account_id
    configuration = {key: value for key, value in volume.items() if key not in ("Tags", "VolumeArn")}
    configuration["Attachments"] = volume.get("Attachments") or []
    arn = volume.get("VolumeArn") or ec2_arn(ctx, owner, f"volume/{volume_id}")
    return tagged_item(ctx, "ec2.volume", volume_id, arn, configuration, volume.get("Tags"))


def list_volumes(ctx: SliceContext) -> list[Item]:
    return [volume_item(ctx, volume) for volume in collect(ctx.client("ec2"), "describe_volumes", "Volumes")]


def get_volume(ctx: SliceContext, volume_id: str) -> Item | None:
    volume = describe_one(
        ctx.client("ec2"), "describe_volumes", "Volumes", "VolumeId", volume_id,
        gone=VOLUME_GONE, VolumeIds=[volume_id],
    )
    return None if volume is None else volume_item(ctx, volume)


# --- declarations ------------------------------------------------------------------------------

TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="ec2.instance",
        is_global=False,
        list_items=list_instances,
        get_item=get_instance,
        description=(
            "EC2 instances (not terminated or terminating): type, image, key pair, subnet and VPC, "
            "security groups, network interfaces, block devices, instance metadata options "
            "(IMDSv2), instance profile, monitoring, CPU, hibernation and enclave options, tags, "
            "and a keyed hash of the user data. State, launch time, public addresses and "
            "attachment times are ephemeral, so a stop and start makes no commit."
        ),
        ephemeral_paths=(
            "State",
            "StateReason",
            "StateTransitionReason",
            "LaunchTime",
            "PublicIpAddress",
            "PublicDnsName",
            "UsageOperationUpdateTime",
            "CapacityReservationId",
            "Placement.HostId",
            "MetadataOptions.State",
            "NetworkInterfaces.*.Association",
            "NetworkInterfaces.*.PrivateIpAddresses.*.Association",
            "NetworkInterfaces.*.Status",
            "NetworkInterfaces.*.Attachment.AttachTime",
            "NetworkInterfaces.*.Attachment.Status",
            "BlockDeviceMappings.*.Ebs.AttachTime",
            "BlockDeviceMappings.*.Ebs.Status",
            "ElasticGpuAssociations.*.ElasticGpuAssociationState",
            "ElasticGpuAssociations.*.ElasticGpuAssociationTime",
            "ElasticInferenceAcceleratorAssociations.*.ElasticInferenceAcceleratorAssociationState",
            "ElasticInferenceAcceleratorAssociations.*.ElasticInferenceAcceleratorAssociationTime",
        ),
        secret_paths=("UserData",),
        unordered_paths=(
            "SecurityGroups",
            "NetworkInterfaces",
            *(f"NetworkInterfaces.*.{key}" for key in _INTERFACE_LISTS),
            "BlockDeviceMappings",
            "ProductCodes",
            "Licenses",
            "ElasticGpuAssociations",
            "ElasticInferenceAcceleratorAssociations",
        ),
        # AWS answers userData with ``<userData/>`` when there is none (``"UserData": {}``), so an
        # answer without it is unreadable, not "no user data". These checks are per operation,
        # not per attribute: a watcher that reads another attribute of DescribeInstanceAttribute
        # must not share this session's checks unchanged.
        always_returned={
            "ec2:DescribeInstances": ("Reservations",),
            "ec2:DescribeInstanceAttribute": ("InstanceId", "UserData"),
        },
        iam_actions=("ec2:DescribeInstances", "ec2:DescribeInstanceAttribute"),
    ),
    Technology(
        name="ec2.elastic_ip",
        is_global=False,
        list_items=list_elastic_ips,
        get_item=get_elastic_ip,
        description=(
            "Elastic IP addresses: public IP, domain, pool, network border group, tags, and the "
            "association (instance, network interface and its owner, private IP; null when not "
            "associated), which is configuration: it decides what the address reaches."
        ),
        always_returned={
            "ec2:DescribeAddresses": ("Addresses",),
        },
        iam_actions=("ec2:DescribeAddresses",),
    ),
    Technology(
        name="ec2.network_interface",
        is_global=False,
        list_items=list_network_interfaces,
        get_item=get_network_interface,
        description=(
            "Elastic network interfaces, requester-managed ones (Lambda, load balancers, NAT "
            "gateways, endpoints) included: type, subnet, VPC, security groups, private addresses "
            "and prefixes, source/destination check, requester, attachment (instance, device, "
            "DeleteOnTermination), tags. Status, attachment time and public address association "
            "are ephemeral."
        ),
        ephemeral_paths=(
            "Status",
            "Attachment.AttachTime",
            "Attachment.Status",
            "Association",
            "PublicDnsName",
            "PrivateIpAddresses.*.Association",
        ),
        unordered_paths=(*_INTERFACE_LISTS, "AssociatedSubnets"),
        always_returned={
            "ec2:DescribeNetworkInterfaces": ("NetworkInterfaces",),
        },
        iam_actions=("ec2:DescribeNetworkInterfaces",),
    ),
    Technology(
        name="ec2.key_pair",
        is_global=False,
        list_items=list_key_pairs,
        get_item=get_key_pair,
        description=(
            "EC2 key pairs, by name: key pair id, fingerprint, key type, create time, tags "
            "(not the public key)."
        ),
        always_returned={
            "ec2:DescribeKeyPairs": ("KeyPairs",),
        },
        iam_actions=("ec2:DescribeKeyPairs",),
    ),
    Technology(
        name="ec2.volume",
        is_global=False,
        list_items=list_volumes,
        get_item=get_volume,
        description=(
            "EBS volumes: size, type, IOPS, throughput, encryption and KMS key, source snapshot, "
            "availability zone, multi-attach, attachments (instance, device, "
            "DeleteOnTermination), tags. State and attachment times and states are ephemeral."
        ),
        ephemeral_paths=("State", "Attachments.*.AttachTime", "Attachments.*.State"),
        unordered_paths=("Attachments",),
        always_returned={
            "ec2:DescribeVolumes": ("Volumes",),
        },
        iam_actions=("ec2:DescribeVolumes",),
    ),
)
