"""The caseworkers' web application (FastAPI, server-rendered French pages, JSON API)."""

from workflow.web.app import create_app

__all__ = ["create_app"]
