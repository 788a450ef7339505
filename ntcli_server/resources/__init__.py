"""The routes of the token API, one module per group; each resource is
thin (see :mod:`ntcli_server.api`)."""
