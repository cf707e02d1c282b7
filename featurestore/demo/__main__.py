"""``python -m featurestore.demo [REPO] [--redis-url URL]``: what ``make demo`` runs."""

from featurestore.demo.run import main

raise SystemExit(main())
