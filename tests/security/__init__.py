"""Security findings, each a test against the real servers (docs/security.md)."""
