"""Loopback stand-ins for the services failwatch talks to (Slack, SMTP)."""
