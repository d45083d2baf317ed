"""Private helpers of ``KubernetesJob``; the data flow of one run:

- ``manifest``: builds the frozen ``JobSpec`` (the job manifest plus what the
  run needs), pure; with ``slugs`` (name and label rules), ``resources``
  (quantities, requests within limits, tolerations: the block's validators)
  and ``kubeconfig`` (finding kubeconfig files). Loaded at class-definition
  time: no ``kubernetes``/``aiohttp`` import.
- ``runner``: takes the spec, creates the job and returns a ``RunOutcome``;
  it talks to the API through ``connection`` (which cluster, a connection
  shared per event loop) and ``api`` (raw JSON requests and streams), and
  watches the job through ``watcher`` (one shared watch per namespace),
  ``state`` (job and pod records, the decisions made from them), ``progress``
  (what a pod that has not started waits for) and ``logs`` (following a pod's
  log). It stops a run (timeout, cancellation) with the stop request's grace.
  Loaded on first use.
"""
