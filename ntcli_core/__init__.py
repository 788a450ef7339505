"""What the CLI, the embedded authority and the server share.

The lowest layer of ntcli: the token format and its secret prefixes, token
lifetimes, name rules, Fernet key handling, redaction and the time format,
each defined once. It imports nothing of ntcli's other packages, and
nothing costly at module level (the CLI's start-up path imports it).
"""
