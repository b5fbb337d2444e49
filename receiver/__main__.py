"""`python -m receiver` is the `failwatch` command."""

from receiver.cli import main

raise SystemExit(main())
