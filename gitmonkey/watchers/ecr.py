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

from gitmonkey.read.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import call_or_absent, collect, decode_policy, describe_each, tags_dict

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


TECHNOLOGIES = (
    Technology(
        name="ecr.repository",
        is_global=False,
        list_items=list_repositories,
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
