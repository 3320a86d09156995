"""ECR watchers: repositories (one paginated DescribeRepositories per region; per repository its
repository policy, lifecycle policy and tags, on a small thread pool).

The configuration is DescribeRepositories' entry as AWS spells it (``imageTagMutability``,
``imageScanningConfiguration.scanOnPush``, ``encryptionConfiguration``...), so that fields AWS adds
later are recorded without a change here, plus ``Policy`` (the repository policy, decoded; read by
the resource-policy rules), ``LifecyclePolicy`` (decoded) and ``Tags``. A repository without a policy
or a lifecycle policy has ``null`` there. The lifecycle policy's ``lastEvaluatedAt`` is not recorded:
it moves every time ECR evaluates the policy.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import (
    call_or_absent,
    collect,
    decode_policy,
    describe_each,
    is_error,
    tags_dict,
)

REPOSITORY_WORKERS = 8
_GONE = ("RepositoryNotFoundException",)


def _describe(ctx: SliceContext, repository: dict[str, Any]) -> Item:
    ecr = ctx.client("ecr")
    name = repository["repositoryName"]
    ids = {"repositoryName": name}
    if repository.get("registryId"):
        ids["registryId"] = repository["registryId"]
    policy = call_or_absent(ecr.get_repository_policy, ("RepositoryPolicyNotFoundException",), **ids)
    lifecycle = call_or_absent(ecr.get_lifecycle_policy, ("LifecyclePolicyNotFoundException",), **ids)
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags")
    configuration = {
        **repository,
        "Policy": decode_policy(policy.get("policyText")) if policy else None,
        "LifecyclePolicy": decode_policy(lifecycle.get("lifecyclePolicyText")) if lifecycle else None,
        "Tags": tags_dict(tags),
    }
    return Item(
        technology="ecr.repository",
        region=ctx.region,
        id=name,
        name=name,
        arn=repository["repositoryArn"],
        configuration=configuration,
    )


def list_repositories(ctx: SliceContext) -> list[Item]:
    """Every repository of the region's own registry; a failed read of any one fails the listing."""
    repositories = collect(ctx.client("ecr"), "describe_repositories", "repositories")
    return describe_each(
        lambda repository: _describe(ctx, repository),
        repositories,
        workers=REPOSITORY_WORKERS,
        name="ecr-repository",
        gone=_GONE,
    )


def get_repository(ctx: SliceContext, name: str) -> Item | None:
    """One repository: DescribeRepositories(repositoryNames=[name]) (the listing's call, so the
    entry is spelled alike), then the listing's three calls: four calls."""
    ecr = ctx.client("ecr")
    try:
        described = call_or_absent(ecr.describe_repositories, _GONE, repositoryNames=[name])
        if described is None:
            return None
        repository = next((r for r in described["repositories"] if r.get("repositoryName") == name), None)
        return None if repository is None else _describe(ctx, repository)
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="ecr.repository",
        is_global=False,
        list_items=list_repositories,
        get_item=get_repository,
        description=(
            "ECR repositories: repository policy, lifecycle policy, image tag mutability, scan on push, "
            "encryption (AES256 or KMS key), URI, tags."
        ),
        always_returned={
            "ecr:GetRepositoryPolicy": ("policyText",),
            "ecr:GetLifecyclePolicy": ("lifecyclePolicyText",),
            "ecr:DescribeRepositories": ("repositories",),
        },
        iam_actions=(
            "ecr:DescribeRepositories",
            "ecr:GetRepositoryPolicy",
            "ecr:GetLifecyclePolicy",
            "ecr:ListTagsForResource",
        ),
    ),
)
