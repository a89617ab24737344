"""What every HTTP surface shares (the REST API, the protocol facades, the web
UI): the edge middleware (request id, client address, hostile input), the
request context, refused-request reporting, and the error codes with their
HTTP status. Nothing here knows a surface; the surfaces import it, never
each other."""
