"""Facades for the protocols existing clients speak (dyndns2, acme-dns, lego
httpreq, the PowerDNS API). Each is a thin translation over the same services
(``services/records.py``): no facade has authorization logic of its own."""
