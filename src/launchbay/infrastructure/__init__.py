"""Infrastructure: the places a command can run."""
