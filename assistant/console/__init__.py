"""The staff console: review, takeover and publishing (see docs/console.md)."""
