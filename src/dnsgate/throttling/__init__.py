"""How often a client may do something: rate limits (in memory, shared memory
between workers, or Redis between nodes) and the sign-in throttle (in the
database, so it holds across nodes)."""
