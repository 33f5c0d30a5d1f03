"""One router per area of the console API; `assistant.console.app` mounts them under /api."""
