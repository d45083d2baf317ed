from launchbay.cli.main import main

raise SystemExit(main())
