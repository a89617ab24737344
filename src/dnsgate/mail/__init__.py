"""Outgoing mail (SMTP): verification, invites, password resets."""
