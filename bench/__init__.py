"""launchbay benchmarks: `bench/run --help`."""
