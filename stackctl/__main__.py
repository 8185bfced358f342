from stackctl.cli.main import main

raise SystemExit(main())
