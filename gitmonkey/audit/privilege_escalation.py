"""The known IAM privilege-escalation combinations, as one rule family per IAM principal type.

A principal that can make itself (or a compute resource it controls) more powerful is as dangerous
as one that already is. The combinations are the published ones: Rhino Security Labs' "AWS IAM
Privilege Escalation - Methods and Mitigation" (21 methods) and the methods added since by the same
research line and by Bishop Fox's iam-vulnerable (SageMaker notebooks, CodeBuild, ECS, SSM, EC2
Instance Connect). Each is data in ``ESCALATIONS``: an id (the finding's key), the actions that
must all be allowed, and what the principal can do with them.

Actions are judged on the effective policies (``gitmonkey.audit.effective``): the principal's
own, its groups', attached managed ones, an unconditional Deny on every resource, and the
permissions boundary when its document is recorded. A principal that is already a full
administrator is reported by ``policy-admin`` instead: escalation adds nothing to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.effective import Grant, effective_policies
from gitmonkey.audit.rule_model import Hit, Rule


@dataclass(frozen=True)
class Escalation:
    id: str
    actions: tuple[str, ...]
    how: str


ESCALATIONS: tuple[Escalation, ...] = (
    Escalation("create-policy-version", ("iam:CreatePolicyVersion",),
               "write a new default version of a managed policy, with any permissions"),
    Escalation("set-default-policy-version", ("iam:SetDefaultPolicyVersion",),
               "make an older, more permissive version of a managed policy the default"),
    Escalation("create-access-key", ("iam:CreateAccessKey",),
               "create access keys for another user and act as that user"),
    Escalation("create-login-profile", ("iam:CreateLoginProfile",),
               "give another user a console password and sign in as that user"),
    Escalation("update-login-profile", ("iam:UpdateLoginProfile",),
               "change another user's console password and sign in as that user"),
    Escalation("attach-user-policy", ("iam:AttachUserPolicy",),
               "attach any managed policy (AdministratorAccess) to a user"),
    Escalation("attach-group-policy", ("iam:AttachGroupPolicy",),
               "attach any managed policy to a group it is a member of"),
    Escalation("attach-role-policy", ("iam:AttachRolePolicy", "sts:AssumeRole"),
               "attach any managed policy to a role and assume it"),
    Escalation("put-user-policy", ("iam:PutUserPolicy",),
               "write an inline policy with any permissions on a user"),
    Escalation("put-group-policy", ("iam:PutGroupPolicy",),
               "write an inline policy with any permissions on a group it is a member of"),
    Escalation("put-role-policy", ("iam:PutRolePolicy", "sts:AssumeRole"),
               "write an inline policy with any permissions on a role and assume it"),
    Escalation("add-user-to-group", ("iam:AddUserToGroup",),
               "add a user to a more privileged group"),
    Escalation("update-assume-role-policy", ("iam:UpdateAssumeRolePolicy", "sts:AssumeRole"),
               "rewrite a role's trust policy to let itself assume the role"),
    Escalation("passrole-ec2", ("iam:PassRole", "ec2:RunInstances"),
               "start an instance with a more privileged instance profile and use its credentials"),
    Escalation("passrole-lambda-invoke",
               ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"),
               "create a function with a more privileged role and run it"),
    Escalation("passrole-lambda-event-source",
               ("iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
               "create a function with a more privileged role, triggered by an event source"),
    Escalation("update-function-code", ("lambda:UpdateFunctionCode",),
               "replace the code of a function that runs with a more privileged role"),
    Escalation("passrole-glue-dev-endpoint", ("iam:PassRole", "glue:CreateDevEndpoint"),
               "create a Glue development endpoint with a more privileged role and log in to it"),
    Escalation("update-glue-dev-endpoint", ("glue:UpdateDevEndpoint",),
               "add an SSH key to a Glue development endpoint and use its role"),
    Escalation("passrole-cloudformation", ("iam:PassRole", "cloudformation:CreateStack"),
               "create a stack that runs with a more privileged service role"),
    Escalation("passrole-datapipeline",
               ("iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
               "create a data pipeline that runs commands with a more privileged role"),
    Escalation("passrole-sagemaker-notebook",
               ("iam:PassRole", "sagemaker:CreateNotebookInstance",
                "sagemaker:CreatePresignedNotebookInstanceUrl"),
               "create a SageMaker notebook with a more privileged role and open it"),
    Escalation("sagemaker-notebook-url", ("sagemaker:CreatePresignedNotebookInstanceUrl",),
               "open an existing SageMaker notebook and use its role"),
    Escalation("passrole-codebuild", ("iam:PassRole", "codebuild:CreateProject", "codebuild:StartBuild"),
               "run a build with a more privileged service role"),
    Escalation("passrole-ecs", ("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"),
               "run an ECS task with a more privileged task role"),
    Escalation("ssm-send-command", ("ssm:SendCommand",),
               "run commands on instances and use their instance profiles' credentials"),
    Escalation("ssm-start-session", ("ssm:StartSession",),
               "open a shell on instances and use their instance profiles' credentials"),
    Escalation("ec2-instance-connect", ("ec2-instance-connect:SendSSHPublicKey",),
               "push an SSH key to instances, log in and use their instance profiles' credentials"),
)

RULES: list[Rule] = []


def _describe(action: str, grants: list[Grant]) -> str:
    first = grants[0]
    resources = ", ".join(first.ref.resources()) or "NotResource"
    conditional = " (conditional)" if first.conditional else ""
    return f"{action} ({first.where()} on {resources}{conditional})"


def escalations(document: dict[str, Any], ctx: AuditContext) -> Iterator[Hit]:
    """One hit per combination of ``ESCALATIONS`` the principal is allowed in full."""
    effective = effective_policies(document, ctx.related)
    if effective.full_admin():
        return
    for escalation in ESCALATIONS:
        found = []
        for action in escalation.actions:
            grants = effective.allows(action.lower())
            if not grants:
                break
            found.append((action, grants))
        else:
            parts = "; ".join(_describe(action, grants) for action, grants in found)
            yield Hit(f"can {escalation.how} — {parts}", found[0][1][0].path, escalation.id)


def _check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
    return escalations(document, ctx)


for _technology in ("iam.user", "iam.role", "iam.group"):
    RULES.append(Rule(
        id=f"{_technology}.privilege-escalation",
        technology=_technology,
        score=8,
        title="Privilege escalation path",
        description=(
            "The effective policies (own, attached, and for a user those of its groups) allow a known "
            "privilege-escalation combination: e.g. iam:CreatePolicyVersion, iam:AttachUserPolicy, "
            "iam:PassRole with ec2:RunInstances or lambda:CreateFunction and lambda:InvokeFunction. One "
            "finding per combination (its key is the combination's id), naming each action and the policy "
            "statement that grants it. Scored 8 rather than 10 because deployment roles need some of "
            "these on purpose; full administrators are reported by policy-admin instead."
        ),
        remediation=(
            "Remove the actions, or restrict their Resource to what the principal must manage (for "
            "iam:PassRole, the roles it must hand to services); add a permissions boundary to principals "
            "that must create roles or policies."
        ),
        source=f"python:{__name__}",
        check=_check,
    ))
