"""The scaled profile's own services (PostgreSQL, Redis, nginx) and the deployment that
starts every process of a profile in order. See docs/scaling.md."""
