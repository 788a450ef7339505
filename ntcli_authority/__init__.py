"""The token authority: issuing, validating, revoking and listing tokens,
their workspaces, users, signing keys, audit events and their storage
(SQLite or PostgreSQL). The CLI embeds it; ntcli-server serves it over
HTTP. It imports only ntcli_core."""
