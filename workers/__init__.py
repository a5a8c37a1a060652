"""Celery app and tasks (Redis broker), the HTTP upload API and its web page."""
