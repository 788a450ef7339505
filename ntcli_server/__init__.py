"""The token authority: embedded by the CLI, served over HTTP by
ntcli-server."""
