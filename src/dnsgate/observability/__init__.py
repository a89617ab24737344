"""What dnsgate tells its operators: Prometheus metrics (``metrics``), the
request metrics and access log of the HTTP surface (``middleware``), who may
read ``/metrics`` (``scrape``), and log lines with the request id (``logs``)."""
