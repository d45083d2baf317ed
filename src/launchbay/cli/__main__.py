from launchbay.cli.main import entry

entry()
