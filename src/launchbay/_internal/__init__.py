"""Internal helpers shared by launchbay's modules. Not part of the public API."""
