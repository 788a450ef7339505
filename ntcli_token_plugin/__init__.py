"""The ``token`` commands of ntcli, registered as an ordinary plugin."""
