"""The CloudTrail event mappings of the RDS, Redshift, ELB, ECR, OpenSearch, Secrets Manager, SES,
Glacier, GuardDuty, Security Hub, Access Analyzer, ACM, Direct Connect, Route 53 and Route 53
Domains watchers (gitmonkey/watchers/events/*.yaml).

Each case is a CloudTrail record shaped like AWS's documented samples (eventSource, eventName,
awsRegion, requestParameters, responseElements), with the exact targets the listener must read
again.
"""

from __future__ import annotations

from typing import Any

import pytest

from gitmonkey.listen.event_map import EventMap, Target, load_event_map

ACCOUNT = "123456789012"
TECHNOLOGIES = (
    "rds.db_cluster",
    "rds.db_cluster_snapshot",
    "rds.db_instance",
    "rds.db_snapshot",
    "rds.db_subnet_group",
    "redshift.cluster",
    "elb.load_balancer",
    "elbv2.load_balancer",
    "ecr.repository",
    "opensearch.domain",
    "secretsmanager.secret",
    "ses.identity",
    "glacier.vault",
    "guardduty.status",
    "securityhub.status",
    "accessanalyzer.status",
    "acm.certificate",
    "directconnect.connection",
    "route53.record_set",
    "route53domains.domain",
)


def event(
    source: str,
    name: str,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A CloudTrail record (an EventBridge event's ``detail``)."""
    return {
        "eventVersion": "1.08",
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.1",
        "requestParameters": request,
        "responseElements": response,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }


def T(technology: str, item_id: str | None = None) -> Target:
    return Target(technology, item_id)


def arn(service: str, resource: str, region: str = "us-east-1") -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


LB_ARN = arn("elasticloadbalancing", "loadbalancer/app/web/50dc6c495c0c9188")
LISTENER_ARN = arn("elasticloadbalancing", "listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2")
CERT_ARN = arn("acm", "certificate/fedcba98-7654-3210-fedc-ba9876543210")
CERT_ID = "fedcba98-7654-3210-fedc-ba9876543210"

CASES: list[tuple[str, dict[str, Any], list[Target]]] = [
    # --- RDS instances
    (
        "rds create instance: the stored (lower-case) id of the answer",
        event(
            "rds",
            "CreateDBInstance",
            {"dBInstanceIdentifier": "Orders-DB", "engine": "mysql", "dBInstanceClass": "db.t3.micro"},
            {
                "dBInstanceIdentifier": "orders-db",
                "dBInstanceArn": arn("rds", "db:orders-db"),
                "engine": "mysql",
            },
        ),
        [T("rds.db_instance", "orders-db")],
    ),
    (
        "rds create instance in a cluster: the cluster's members change",
        event(
            "rds",
            "CreateDBInstance",
            {"dBInstanceIdentifier": "aurora-1", "dBClusterIdentifier": "aurora", "engine": "aurora-mysql"},
            {"dBInstanceIdentifier": "aurora-1", "dBClusterIdentifier": "aurora"},
        ),
        [T("rds.db_instance", "aurora-1"), T("rds.db_cluster", "aurora")],
    ),
    (
        "rds modify instance with a rename: the old and the new id",
        event(
            "rds",
            "ModifyDBInstance",
            {"dBInstanceIdentifier": "db1", "newDBInstanceIdentifier": "db2", "applyImmediately": True},
            {"dBInstanceIdentifier": "db1", "publiclyAccessible": False},
        ),
        [T("rds.db_instance", "db1"), T("rds.db_instance", "db2")],
    ),
    (
        "rds modify instance without an answer: the request's id",
        event("rds", "ModifyDBInstance", {"dBInstanceIdentifier": "db1", "publiclyAccessible": True}, None),
        [T("rds.db_instance", "db1")],
    ),
    (
        "rds delete cluster member: the instance and its cluster",
        event(
            "rds",
            "DeleteDBInstance",
            {"dBInstanceIdentifier": "aurora-2", "skipFinalSnapshot": True},
            {
                "dBInstanceIdentifier": "aurora-2",
                "dBClusterIdentifier": "aurora",
                "dBInstanceStatus": "deleting",
            },
        ),
        [T("rds.db_instance", "aurora-2"), T("rds.db_cluster", "aurora")],
    ),
    (
        "rds read replica: the replica and its source",
        event(
            "rds",
            "CreateDBInstanceReadReplica",
            {"dBInstanceIdentifier": "replica", "sourceDBInstanceIdentifier": "primary"},
            {"dBInstanceIdentifier": "replica"},
        ),
        [T("rds.db_instance", "replica"), T("rds.db_instance", "primary")],
    ),
    (
        "rds cross-region read replica: the source's ARN is another region's item",
        event(
            "rds",
            "CreateDBInstanceReadReplica",
            {
                "dBInstanceIdentifier": "replica",
                "sourceDBInstanceIdentifier": arn("rds", "db:primary", "eu-west-1"),
            },
            None,
        ),
        [T("rds.db_instance", "replica")],
    ),
    (
        "rds point-in-time restore: the target instance",
        event(
            "rds",
            "RestoreDBInstanceToPointInTime",
            {"sourceDBInstanceIdentifier": "db1", "targetDBInstanceIdentifier": "db1-restored"},
            None,
        ),
        [T("rds.db_instance", "db1-restored")],
    ),
    (
        "rds role added to an instance (empty answer)",
        event(
            "rds", "AddRoleToDBInstance", {"dBInstanceIdentifier": "db1", "roleArn": "arn:aws:iam::1:role/r"}
        ),
        [T("rds.db_instance", "db1")],
    ),
    # --- RDS clusters
    (
        "rds create cluster",
        event(
            "rds",
            "CreateDBCluster",
            {"dBClusterIdentifier": "Aurora", "engine": "aurora-postgresql"},
            {"dBClusterIdentifier": "aurora", "dBClusterArn": arn("rds", "cluster:aurora")},
        ),
        [T("rds.db_cluster", "aurora")],
    ),
    (
        "rds modify cluster",
        event(
            "rds",
            "ModifyDBCluster",
            {"dBClusterIdentifier": "aurora", "deletionProtection": False},
            {"dBClusterIdentifier": "aurora"},
        ),
        [T("rds.db_cluster", "aurora")],
    ),
    (
        "rds delete cluster",
        event(
            "rds",
            "DeleteDBCluster",
            {"dBClusterIdentifier": "aurora", "skipFinalSnapshot": True},
            {"dBClusterIdentifier": "aurora", "status": "deleting"},
        ),
        [T("rds.db_cluster", "aurora")],
    ),
    (
        "rds data API endpoint: named by ARN, the cluster slice",
        event("rds", "EnableHttpEndpoint", {"resourceArn": arn("rds", "cluster:aurora")}),
        [T("rds.db_cluster")],
    ),
    # --- RDS snapshots
    (
        "rds create snapshot",
        event(
            "rds",
            "CreateDBSnapshot",
            {"dBSnapshotIdentifier": "snap1", "dBInstanceIdentifier": "db1"},
            {"dBSnapshotIdentifier": "snap1", "snapshotType": "manual"},
        ),
        [T("rds.db_snapshot", "snap1")],
    ),
    (
        "rds share snapshot",
        event(
            "rds",
            "ModifyDBSnapshotAttribute",
            {"dBSnapshotIdentifier": "snap1", "attributeName": "restore", "valuesToAdd": ["all"]},
            {"dBSnapshotIdentifier": "snap1", "dBSnapshotAttributes": [{"attributeName": "restore"}]},
        ),
        [T("rds.db_snapshot", "snap1")],
    ),
    (
        "rds copy snapshot: the target",
        event(
            "rds",
            "CopyDBSnapshot",
            {"sourceDBSnapshotIdentifier": "snap1", "targetDBSnapshotIdentifier": "snap2"},
        ),
        [T("rds.db_snapshot", "snap2")],
    ),
    (
        "rds delete snapshot",
        event(
            "rds", "DeleteDBSnapshot", {"dBSnapshotIdentifier": "snap1"}, {"dBSnapshotIdentifier": "snap1"}
        ),
        [T("rds.db_snapshot", "snap1")],
    ),
    (
        "rds create cluster snapshot",
        event(
            "rds",
            "CreateDBClusterSnapshot",
            {"dBClusterSnapshotIdentifier": "csnap", "dBClusterIdentifier": "aurora"},
            {"dBClusterSnapshotIdentifier": "csnap"},
        ),
        [T("rds.db_cluster_snapshot", "csnap")],
    ),
    (
        "rds share cluster snapshot",
        event(
            "rds",
            "ModifyDBClusterSnapshotAttribute",
            {
                "dBClusterSnapshotIdentifier": "csnap",
                "attributeName": "restore",
                "valuesToAdd": ["111122223333"],
            },
        ),
        [T("rds.db_cluster_snapshot", "csnap")],
    ),
    (
        "rds delete cluster snapshot",
        event("rds", "DeleteDBClusterSnapshot", {"dBClusterSnapshotIdentifier": "csnap"}),
        [T("rds.db_cluster_snapshot", "csnap")],
    ),
    # --- RDS subnet groups
    (
        "rds create subnet group",
        event(
            "rds",
            "CreateDBSubnetGroup",
            {"dBSubnetGroupName": "Private", "subnetIds": ["subnet-1", "subnet-2"]},
            {"dBSubnetGroupName": "private", "vpcId": "vpc-1"},
        ),
        [T("rds.db_subnet_group", "private")],
    ),
    (
        "rds modify subnet group",
        event(
            "rds",
            "ModifyDBSubnetGroup",
            {"dBSubnetGroupName": "private", "subnetIds": ["subnet-3"]},
            {"dBSubnetGroupName": "private"},
        ),
        [T("rds.db_subnet_group", "private")],
    ),
    (
        "rds delete subnet group (no answer)",
        event("rds", "DeleteDBSubnetGroup", {"dBSubnetGroupName": "private"}),
        [T("rds.db_subnet_group", "private")],
    ),
    (
        "rds tags: the instance named by its ARN",
        event(
            "rds",
            "AddTagsToResource",
            {"resourceName": arn("rds", "db:DB1"), "tags": [{"key": "env", "value": "prod"}]},
        ),
        [T("rds.db_instance", "db1")],
    ),
    (
        "rds tags: a cluster by its ARN",
        event("rds", "RemoveTagsFromResource",
              {"resourceName": arn("rds", "cluster:aurora"), "tagKeys": ["a"]}),
        [T("rds.db_cluster", "aurora")],
    ),
    (
        "rds tags: a snapshot",
        event("rds", "AddTagsToResource", {"resourceName": arn("rds", "snapshot:nightly"), "tags": []}),
        [T("rds.db_snapshot", "nightly")],
    ),
    (
        "rds tags: a cluster snapshot",
        event("rds", "AddTagsToResource", {"resourceName": arn("rds", "cluster-snapshot:c1"), "tags": []}),
        [T("rds.db_cluster_snapshot", "c1")],
    ),
    (
        "rds tags: a parameter group is no watched item",
        event("rds", "AddTagsToResource", {"resourceName": arn("rds", "pg:custom"), "tags": []}),
        [],
    ),
    # --- Redshift
    (
        "redshift create cluster",
        event(
            "redshift",
            "CreateCluster",
            {"clusterIdentifier": "Warehouse", "nodeType": "ra3.xlplus", "masterUsername": "admin"},
            {"clusterIdentifier": "warehouse", "clusterStatus": "creating"},
        ),
        [T("redshift.cluster", "warehouse")],
    ),
    (
        "redshift rename cluster",
        event(
            "redshift",
            "ModifyCluster",
            {"clusterIdentifier": "warehouse", "newClusterIdentifier": "dwh"},
            None,
        ),
        [T("redshift.cluster", "warehouse"), T("redshift.cluster", "dwh")],
    ),
    (
        "redshift IAM roles",
        event(
            "redshift",
            "ModifyClusterIamRoles",
            {"clusterIdentifier": "dwh", "addIamRoles": ["arn:aws:iam::1:role/r"]},
        ),
        [T("redshift.cluster", "dwh")],
    ),
    (
        "redshift delete cluster",
        event("redshift", "DeleteCluster", {"clusterIdentifier": "dwh", "skipFinalClusterSnapshot": True}),
        [T("redshift.cluster", "dwh")],
    ),
    (
        "redshift tags: the cluster named by its ARN",
        event("redshift", "CreateTags", {"resourceName": arn("redshift", "cluster:DWH"), "tags": []}),
        [T("redshift.cluster", "dwh")],
    ),
    (
        "redshift tags: a snapshot is no watched item",
        event("redshift", "DeleteTags",
              {"resourceName": arn("redshift", "snapshot:dwh/s1"), "tagKeys": []}),
        [],
    ),
    # --- classic ELB
    (
        "classic elb create",
        event(
            "elasticloadbalancing",
            "CreateLoadBalancer",
            {
                "loadBalancerName": "classic-web",
                "listeners": [{"protocol": "HTTP", "loadBalancerPort": 80, "instancePort": 80}],
                "availabilityZones": ["us-east-1a"],
            },
            {"dNSName": "classic-web-1.us-east-1.elb.amazonaws.com"},
        ),
        [T("elb.load_balancer", "classic-web")],
    ),
    (
        "classic elb listener policy",
        event(
            "elasticloadbalancing",
            "SetLoadBalancerPoliciesOfListener",
            {"loadBalancerName": "classic-web", "loadBalancerPort": 443, "policyNames": ["tls"]},
        ),
        [T("elb.load_balancer", "classic-web")],
    ),
    (
        "classic elb tags: several names",
        event(
            "elasticloadbalancing",
            "AddTags",
            {"loadBalancerNames": ["a", "b"], "tags": [{"key": "env", "value": "prod"}]},
        ),
        [T("elb.load_balancer", "a"), T("elb.load_balancer", "b")],
    ),
    (
        "classic elb delete (the shared name's v2 entry finds no ARN)",
        event("elasticloadbalancing", "DeleteLoadBalancer", {"loadBalancerName": "classic-web"}),
        [T("elb.load_balancer", "classic-web")],
    ),
    (
        "classic elb instances: not recorded",
        event(
            "elasticloadbalancing",
            "RegisterInstancesWithLoadBalancer",
            {"loadBalancerName": "classic-web", "instances": [{"instanceId": "i-1"}]},
        ),
        [],
    ),
    # --- ELBv2
    (
        "elbv2 create: the name of the request",
        event(
            "elasticloadbalancing",
            "CreateLoadBalancer",
            {
                "name": "web",
                "subnets": ["subnet-1", "subnet-2"],
                "scheme": "internet-facing",
                "type": "application",
            },
            {"loadBalancers": [{"loadBalancerArn": LB_ARN, "loadBalancerName": "web"}]},
        ),
        [T("elbv2.load_balancer", "web")],
    ),
    (
        "elbv2 attributes: the name from the ARN",
        event(
            "elasticloadbalancing",
            "ModifyLoadBalancerAttributes",
            {
                "loadBalancerArn": LB_ARN,
                "attributes": [{"key": "deletion_protection.enabled", "value": "true"}],
            },
        ),
        [T("elbv2.load_balancer", "web")],
    ),
    (
        "elbv2 listener change: the name from the listener ARN",
        event(
            "elasticloadbalancing",
            "ModifyListener",
            {"listenerArn": LISTENER_ARN, "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
        ),
        [T("elbv2.load_balancer", "web")],
    ),
    (
        "elbv2 delete: the name from the ARN",
        event("elasticloadbalancing", "DeleteLoadBalancer", {"loadBalancerArn": LB_ARN}),
        [T("elbv2.load_balancer", "web")],
    ),
    (
        "elbv2 tags: load balancers by name, target groups ignored",
        event(
            "elasticloadbalancing",
            "AddTags",
            {"resourceArns": [LB_ARN, arn("elasticloadbalancing", "targetgroup/tg/73e2d6bc24d8a067")],
             "tags": [{"key": "env", "value": "prod"}]},
        ),
        [T("elbv2.load_balancer", "web")],
    ),
    # --- ECR
    (
        "ecr create",
        event(
            "ecr",
            "CreateRepository",
            {"repositoryName": "team/app", "imageTagMutability": "MUTABLE"},
            {"repository": {"repositoryName": "team/app"}},
        ),
        [T("ecr.repository", "team/app")],
    ),
    (
        "ecr policy",
        event("ecr", "SetRepositoryPolicy", {"repositoryName": "team/app", "policyText": "{}"}),
        [T("ecr.repository", "team/app")],
    ),
    (
        "ecr tags: the name out of the ARN, slash kept",
        event("ecr", "TagResource", {"resourceArn": arn("ecr", "repository/team/app"), "tags": []}),
        [T("ecr.repository", "team/app")],
    ),
    (
        "ecr delete",
        event("ecr", "DeleteRepository", {"repositoryName": "team/app", "force": True}),
        [T("ecr.repository", "team/app")],
    ),
    # --- OpenSearch
    (
        "opensearch create (OpenSearch API)",
        event(
            "es",
            "CreateDomain",
            {"domainName": "logs", "engineVersion": "OpenSearch_2.11"},
            {"domainStatus": {"domainName": "logs"}},
        ),
        [T("opensearch.domain", "logs")],
    ),
    (
        "opensearch update (Elasticsearch API)",
        event("es", "UpdateElasticsearchDomainConfig", {"domainName": "logs", "accessPolicies": "{}"}),
        [T("opensearch.domain", "logs")],
    ),
    (
        "opensearch tags by ARN",
        event("es", "AddTags", {"aRN": arn("es", "domain/logs"), "tagList": [{"key": "a", "value": "b"}]}),
        [T("opensearch.domain", "logs")],
    ),
    (
        "opensearch delete",
        event("es", "DeleteElasticsearchDomain", {"domainName": "logs"}),
        [T("opensearch.domain", "logs")],
    ),
    # --- Secrets Manager
    (
        "secrets manager create: the name",
        event(
            "secretsmanager",
            "CreateSecret",
            {"name": "prod/db/password", "kmsKeyId": "alias/k"},
            {"arn": arn("secretsmanager", "secret:prod/db/password-AbCdEf")},
        ),
        [T("secretsmanager.secret", "prod/db/password")],
    ),
    (
        "secrets manager policy: secretId may be an ARN, the slice",
        event(
            "secretsmanager",
            "PutResourcePolicy",
            {"secretId": arn("secretsmanager", "secret:prod/db/password-AbCdEf"), "resourcePolicy": "{}"},
        ),
        [T("secretsmanager.secret")],
    ),
    (
        "secrets manager delete: the slice",
        event("secretsmanager", "DeleteSecret", {"secretId": "prod/db/password", "recoveryWindowInDays": 7}),
        [T("secretsmanager.secret")],
    ),
    (
        "secrets manager new value: not recorded",
        event("secretsmanager", "PutSecretValue", {"secretId": "prod/db/password"}),
        [],
    ),
    # --- SES
    (
        "ses v2 create identity",
        event(
            "ses",
            "CreateEmailIdentity",
            {"emailIdentity": "example.com"},
            {"identityType": "DOMAIN", "verifiedForSendingStatus": False},
        ),
        [T("ses.identity", "example.com")],
    ),
    (
        "ses v2 DKIM signing",
        event(
            "ses",
            "PutEmailIdentityDkimSigningAttributes",
            {"emailIdentity": "example.com", "signingAttributesOrigin": "AWS_SES"},
        ),
        [T("ses.identity", "example.com")],
    ),
    (
        "ses v2 delete",
        event("ses", "DeleteEmailIdentity", {"emailIdentity": "alice@example.com"}),
        [T("ses.identity", "alice@example.com")],
    ),
    (
        "ses v1 verify domain",
        event("ses", "VerifyDomainIdentity", {"domain": "example.org"}, {"verificationToken": "abc"}),
        [T("ses.identity", "example.org")],
    ),
    (
        "ses v1 policy",
        event("ses", "PutIdentityPolicy", {"identity": "example.org", "policyName": "p", "policy": "{}"}),
        [T("ses.identity", "example.org")],
    ),
    (
        "ses v1 delete",
        event("ses", "DeleteIdentity", {"identity": "example.org"}),
        [T("ses.identity", "example.org")],
    ),
    (
        "ses tags of an identity",
        event("ses", "TagResource", {"resourceArn": arn("ses", "identity/example.com"), "tags": []}),
        [T("ses.identity", "example.com")],
    ),
    (
        "ses tags of a configuration set: not an identity",
        event("ses", "TagResource", {"resourceArn": arn("ses", "configuration-set/main"), "tags": []}),
        [],
    ),
    # --- Glacier
    (
        "glacier create",
        event(
            "glacier",
            "CreateVault",
            {"accountId": "-", "vaultName": "archive"},
            {"location": f"/{ACCOUNT}/vaults/archive"},
        ),
        [T("glacier.vault", "archive")],
    ),
    (
        "glacier policy",
        event("glacier", "SetVaultAccessPolicy", {"accountId": "-", "vaultName": "archive", "policy": {}}),
        [T("glacier.vault", "archive")],
    ),
    (
        "glacier lock",
        event("glacier", "CompleteVaultLock", {"accountId": "-", "vaultName": "archive", "lockId": "x"}),
        [T("glacier.vault", "archive")],
    ),
    (
        "glacier delete",
        event("glacier", "DeleteVault", {"accountId": "-", "vaultName": "archive"}),
        [T("glacier.vault", "archive")],
    ),
    # --- posture items: id = the region
    (
        "guardduty create detector",
        event(
            "guardduty",
            "CreateDetector",
            {"enable": True},
            {"detectorId": "12abc34d567e8fa901bc2d34e56789f0"},
            region="eu-west-1",
        ),
        [T("guardduty.status", "eu-west-1")],
    ),
    (
        "guardduty update detector",
        event("guardduty", "UpdateDetector", {"detectorId": "12abc", "enable": False}, region="eu-west-1"),
        [T("guardduty.status", "eu-west-1")],
    ),
    (
        "guardduty delete detector",
        event("guardduty", "DeleteDetector", {"detectorId": "12abc"}, region="eu-west-1"),
        [T("guardduty.status", "eu-west-1")],
    ),
    (
        "security hub enable",
        event("securityhub", "EnableSecurityHub", {"enableDefaultStandards": True}, region="ap-south-1"),
        [T("securityhub.status", "ap-south-1")],
    ),
    (
        "security hub configuration",
        event(
            "securityhub",
            "UpdateSecurityHubConfiguration",
            {"autoEnableControls": False},
            region="ap-south-1",
        ),
        [T("securityhub.status", "ap-south-1")],
    ),
    (
        "security hub disable",
        event("securityhub", "DisableSecurityHub", {}, region="ap-south-1"),
        [T("securityhub.status", "ap-south-1")],
    ),
    (
        "access analyzer create",
        event(
            "access-analyzer",
            "CreateAnalyzer",
            {"analyzerName": "account", "type": "ACCOUNT"},
            {"arn": arn("access-analyzer", "analyzer/account")},
        ),
        [T("accessanalyzer.status", "us-east-1")],
    ),
    (
        "access analyzer update",
        event("access-analyzer", "UpdateAnalyzer", {"analyzerName": "unused", "configuration": {}}),
        [T("accessanalyzer.status", "us-east-1")],
    ),
    (
        "access analyzer delete",
        event("access-analyzer", "DeleteAnalyzer", {"analyzerName": "account"}),
        [T("accessanalyzer.status", "us-east-1")],
    ),
    # --- ACM
    (
        "acm request: the UUID of the answer's ARN",
        event(
            "acm",
            "RequestCertificate",
            {"domainName": "example.com", "validationMethod": "DNS"},
            {"certificateArn": CERT_ARN},
        ),
        [T("acm.certificate", CERT_ID)],
    ),
    (
        "acm re-import: the request's ARN",
        event("acm", "ImportCertificate", {"certificateArn": CERT_ARN}, None),
        [T("acm.certificate", CERT_ID)],
    ),
    (
        "acm tags (documented sample shape)",
        event(
            "acm",
            "AddTagsToCertificate",
            {"tags": [{"value": "Alice", "key": "Admin"}], "certificateArn": CERT_ARN},
            None,
        ),
        [T("acm.certificate", CERT_ID)],
    ),
    (
        "acm delete",
        event("acm", "DeleteCertificate", {"certificateArn": CERT_ARN}, None),
        [T("acm.certificate", CERT_ID)],
    ),
    # --- Direct Connect
    (
        "direct connect create",
        event(
            "directconnect",
            "CreateConnection",
            {"location": "EqDC2", "bandwidth": "1Gbps", "connectionName": "dc1"},
            {"connectionId": "dxcon-fg5678gh", "connectionName": "dc1", "connectionState": "requested"},
        ),
        [T("directconnect.connection", "dxcon-fg5678gh")],
    ),
    (
        "direct connect update",
        event(
            "directconnect",
            "UpdateConnection",
            {"connectionId": "dxcon-fg5678gh", "encryptionMode": "must_encrypt"},
        ),
        [T("directconnect.connection", "dxcon-fg5678gh")],
    ),
    (
        "direct connect tags of a connection and of a LAG",
        event(
            "directconnect",
            "TagResource",
            {"resourceArn": arn("directconnect", "dxcon/dxcon-fg5678gh"), "tags": []},
        ),
        [T("directconnect.connection", "dxcon-fg5678gh")],
    ),
    (
        "direct connect LAG tags: not watched",
        event(
            "directconnect",
            "TagResource",
            {"resourceArn": arn("directconnect", "dxlag/dxlag-ab12"), "tags": []},
        ),
        [],
    ),
    (
        "direct connect delete",
        event("directconnect", "DeleteConnection", {"connectionId": "dxcon-fg5678gh"}),
        [T("directconnect.connection", "dxcon-fg5678gh")],
    ),
    # --- Route 53 (global)
    (
        "route53 record change: the slice",
        event(
            "route53",
            "ChangeResourceRecordSets",
            {
                "hostedZoneId": "Z1PA6795UKMFR9",
                "changeBatch": {
                    "changes": [
                        {
                            "action": "UPSERT",
                            "resourceRecordSet": {
                                "name": "www.example.com",
                                "type": "A",
                                "tTL": 300,
                                "resourceRecords": [{"value": "192.0.2.44"}],
                            },
                        }
                    ]
                },
            },
            {"changeInfo": {"id": "/change/C2682N5HXP0BZ4", "status": "PENDING"}},
        ),
        [T("route53.record_set")],
    ),
    (
        "route53 create zone: its SOA and NS records",
        event(
            "route53",
            "CreateHostedZone",
            {"name": "example.com", "callerReference": "x"},
            {"hostedZone": {"id": "/hostedzone/Z1PA6795UKMFR9"}},
        ),
        [T("route53.record_set")],
    ),
    (
        "route53 delete zone",
        event("route53", "DeleteHostedZone", {"id": "Z1PA6795UKMFR9"}),
        [T("route53.record_set")],
    ),
    # --- Route 53 Domains (global)
    (
        "route53domains register",
        event(
            "route53domains",
            "RegisterDomain",
            {"domainName": "example.com", "durationInYears": 1},
            {"operationId": "op-1"},
        ),
        [T("route53domains.domain", "example.com")],
    ),
    (
        "route53domains name servers",
        event(
            "route53domains",
            "UpdateDomainNameservers",
            {"domainName": "example.com", "nameservers": [{"name": "ns1.example.net"}]},
        ),
        [T("route53domains.domain", "example.com")],
    ),
    (
        "route53domains transfer lock",
        event("route53domains", "DisableDomainTransferLock", {"domainName": "example.com"}),
        [T("route53domains.domain", "example.com")],
    ),
    (
        "route53domains delete",
        event("route53domains", "DeleteDomain", {"domainName": "example.com"}),
        [T("route53domains.domain", "example.com")],
    ),
]


@pytest.fixture(scope="module")
def event_map() -> EventMap:
    return load_event_map()


@pytest.mark.parametrize(("record", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_event_targets(event_map: EventMap, record: dict[str, Any], expected: list[Target]) -> None:
    found = event_map.targets(record)
    assert len(found) == len(set(found))
    assert set(found) == set(expected)


def test_every_technology_is_mapped(event_map: EventMap) -> None:
    missing = set(TECHNOLOGIES) - event_map.technologies()
    assert not missing


@pytest.mark.parametrize("technology", TECHNOLOGIES)
def test_every_technology_has_create_update_delete_cases(technology: str) -> None:
    """The cases above cover each technology (posture items: their enable/update/disable calls)."""
    covered = [c for c in CASES if any(t.technology == technology for t in c[2])]
    assert len(covered) >= 3


def test_unmapped_read_call_gives_nothing(event_map: EventMap) -> None:
    assert event_map.targets(event("rds", "DescribeDBInstances", {})) == []
    assert event_map.targets(event("acm", "DescribeCertificate", {"certificateArn": CERT_ARN})) == []
