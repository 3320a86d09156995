"""Stage 1, read: what AWS holds now, as normalised documents.

``aws`` makes the account's clients (assumed roles, retries, timeouts, calls counted per slice),
``aws_responses`` refuses answers that are not what the API promises, and ``slices`` reads either a
whole slice (every item of a technology in a region: ``sync``) or a few items by id (``listen``,
after a CloudTrail event), through the technologies the modules of ``gitmonkey.watchers`` declare.
Nothing here writes: a read either succeeds completely or says why it failed.
"""
