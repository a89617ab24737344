"""dnsgate: a self-hosted DNS access gateway."""
