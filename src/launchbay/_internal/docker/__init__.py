"""Private helpers of ``DockerContainer`` and ``DockerRegistry``.

Modules that import docker-py (``connection``, ``events``, ``pull``) load only
when a container is run, killed or attached; the rest are pure.
"""
