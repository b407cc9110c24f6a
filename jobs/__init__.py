"""The nightly run and its scheduler."""
