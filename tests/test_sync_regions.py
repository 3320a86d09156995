"""Regions where AWS does not offer a technology's service are skipped, not failed."""

from __future__ import annotations

import boto3
from moto import mock_aws

from gitmonkey.read.aws import offered_regions
from gitmonkey.sync import run_sync
from tests.helpers import make_config

# Glacier is not offered in the newer regions (botocore's endpoint data); SQS is everywhere.
NEW_REGION = "eu-central-2"


def test_botocore_knows_where_each_service_is_offered():
    assert NEW_REGION in offered_regions("sqs")
    assert NEW_REGION not in offered_regions("glacier")
    assert "us-east-1" in offered_regions("glacier")
    assert "cn-north-1" in offered_regions("sqs"), "every partition counts, not only aws"
    assert offered_regions("not-a-service") is None


def test_a_technology_is_not_read_where_its_service_is_not_offered(tmp_path):
    config = make_config(
        tmp_path,
        technologies=["glacier.vault", "sqs.queue"],
        accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1", NEW_REGION]}],
    )
    with mock_aws():  # no vault: moto lacks the per-vault reads (tests/test_watchers_glacier.py)
        boto3.client("sqs", region_name=NEW_REGION).create_queue(QueueName="orders")
        report = run_sync(config)
    [account] = report.accounts
    read = sorted((s.key.region, s.key.technology) for s in account.slices)
    assert read == [
        (NEW_REGION, "sqs.queue"),
        ("us-east-1", "glacier.vault"),
        ("us-east-1", "sqs.queue"),
    ]
    assert report.exit_code == 0, [s.error for s in account.failed_slices]
    items = sorted(path.name for path in (config.repos_dir / "prod" / "items").rglob("*.json"))
    assert items == ["orders.json"]
