"""Private helpers of the Kubernetes support: manifest building and validation,
name and label slugs, API access, shared watches, log following and monitoring.

Only ``manifest`` and ``slugs`` may be imported at class-definition time; the
other modules load ``kubernetes``/``aiohttp`` and are imported on first use.
"""
