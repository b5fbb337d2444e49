"""Integrations that deliver notifications: one module each, one shared contract."""
