"""``gitmonkey listen`` (issue #8, in progress): CloudTrail events -> the items they touched.

So far: the event map (``event_map``: which watched item an event names), the reading of delivered
queue messages into changes with their principal (``messages``), and the CloudFormation that sets up
the queue, bus and forwarders (``templates``, ``gitmonkey events template``). The listener loop
that re-reads the items and commits them as their principal is not written yet.
"""
