"""``python -m dnsgate`` is the ``dnsgate`` command."""

from dnsgate.cli import main

main()
