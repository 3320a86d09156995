"""``gitmonkey listen`` (issue #8, in progress): CloudTrail events -> the items they touched.

So far: the event map (``event_map``), which says from an event which watched item to read again.
"""
