"""`python -m receiver` is the `failwatch` command."""

from receiver.cli.main import main

raise SystemExit(main())
