"""The ``launchbay`` command line."""
