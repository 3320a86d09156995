"""What checking every 2xx answer costs, against botocore's own parsing of the same answer.

``response_check_overhead_<protocol>``: (check + parse) / parse for one large, well-formed answer
per protocol, both measured in the same run on the same bytes. The check reads the body once more
(JSON or XML), so a ratio near 2 is the expected ceiling; the network time of a real call, which
dwarfs both, is not included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.parsers import create_parser

from gitmonkey.read.aws_responses import body_problem

REPEAT = 7


def _sqs_list_queues() -> bytes:
    urls = [f"https://sqs.us-east-1.amazonaws.com/123456789012/queue-{i:04d}" for i in range(1000)]
    return json.dumps({"QueueUrls": urls}).encode()


def _lambda_list_functions() -> bytes:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn-"
    functions = [{"FunctionName": f"fn-{i}", "FunctionArn": f"{arn}{i}",
                  "Runtime": "python3.12", "MemorySize": 128, "Timeout": 30, "CodeSize": 1024, "Layers": [],
                  "Environment": {"Variables": {"A": "1", "B": "2"}}, "Architectures": ["x86_64"]}
                 for i in range(500)]
    return json.dumps({"Functions": functions}).encode()


def _ec2_describe_security_groups() -> bytes:
    rule = ("<item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort><groups/>"
            "<ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges><ipv6Ranges/></item>")
    groups = "".join(
        f"<item><ownerId>123456789012</ownerId><groupId>sg-{i:08x}</groupId><groupName>g{i}</groupName>"
        f"<groupDescription>d</groupDescription><vpcId>vpc-1</vpcId><ipPermissions>{rule * 4}</ipPermissions>"
        f"<ipPermissionsEgress>{rule}</ipPermissionsEgress></item>"
        for i in range(500)
    )
    return (f'<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>r</requestId><securityGroupInfo>{groups}</securityGroupInfo>"
            f"</DescribeSecurityGroupsResponse>").encode()


def _sns_list_topics() -> bytes:
    topics = "".join(f"<member><TopicArn>arn:aws:sns:us-east-1:123456789012:t{i}</TopicArn></member>"
                     for i in range(1000))
    return (f'<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ListTopicsResult>'
            f"<Topics>{topics}</Topics></ListTopicsResult><ResponseMetadata><RequestId>r</RequestId>"
            f"</ResponseMetadata></ListTopicsResponse>").encode()


def _s3_list_buckets() -> bytes:
    buckets = "".join(f"<Bucket><Name>bucket-{i:04d}</Name>"
                      f"<CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket>" for i in range(1000))
    return (f'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner>'
            f"<Buckets>{buckets}</Buckets></ListAllMyBucketsResult>").encode()


CASES: dict[str, tuple[str, str, Callable[[], bytes]]] = {
    "json": ("sqs", "ListQueues", _sqs_list_queues),
    "rest-json": ("lambda", "ListFunctions", _lambda_list_functions),
    "ec2": ("ec2", "DescribeSecurityGroups", _ec2_describe_security_groups),
    "query": ("sns", "ListTopics", _sns_list_topics),
    "rest-xml": ("s3", "ListBuckets", _s3_list_buckets),
}


def _best(func: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def run() -> list[dict[str, Any]]:
    session = botocore.session.get_session()
    figures = []
    for protocol, (service, operation, make) in CASES.items():
        model = session.get_service_model(service).operation_model(operation)
        body = make()
        parser = create_parser(model.service_model.resolved_protocol)

        def parse(body: bytes = body, model: Any = model, parser: Any = parser) -> Any:
            return parser.parse({"body": body, "headers": {}, "status_code": 200}, model.output_shape)

        assert body_problem(model, body) is None, f"{protocol}: the benchmark's answer is not well formed"
        baseline = _best(parse)
        checked = _best(lambda body=body, model=model, parse=parse: (body_problem(model, body), parse()))
        figures.append({
            "name": f"response_check_overhead_{protocol}",
            "ratio": round(checked / baseline, 2),
            "baseline_parse_s": round(baseline, 5),
            "checked_parse_s": round(checked, 5),
            "body_bytes": len(body),
        })
    return figures
