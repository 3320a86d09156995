"""Notifications: an outbox that never loses a message, delivered by email, Slack, webhook or SNS.

The hook path imports this package: nothing here imports boto3 (the SNS channel does, when it sends).
"""

from gitmonkey.notify.channels import DeliveryError
from gitmonkey.notify.deliver import FlushResult, enqueue, flush, pending_count, send_test

__all__ = ["DeliveryError", "FlushResult", "enqueue", "flush", "pending_count", "send_test"]
