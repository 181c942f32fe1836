from rawproto.cli import main

raise SystemExit(main())
