"""Private helpers of ``DockerContainer`` and ``DockerRegistry``.

- ``spec``: what a run creates (``ContainerSpec``), built purely from the
  block's values, the platform and the engine's version; with the rules it
  uses: ``networking``, ``labels``, ``names``, ``memory``, ``resources``,
  ``images``.
- ``runner``: the I/O of run, kill and attach, returning a ``RunOutcome``;
  engine calls through docker-py (``connection``: where the engine is, one
  client per engine), output streams through httpx (``streams``, ``output``),
  pulls (``pull``, ``registry``) and their progress (``progress``); timeouts
  and the stop of a cancelled run.
- watching: ``monitor`` follows one container to its end, ``events`` is the
  one events stream per engine that reports every exit, ``state`` reads what
  ``docker inspect`` says, ``exits`` names why a container ended.

Modules that import docker-py or httpx load only when a container is run,
killed or attached; the block imports only the pure ones.
"""
