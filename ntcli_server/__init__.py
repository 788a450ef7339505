"""ntcli-server: the token authority (ntcli_authority) served over HTTP,
with its admin CLI, ingress checks, logs, metrics and rate limits."""
