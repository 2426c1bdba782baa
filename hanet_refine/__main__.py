"""``python -m hanet_refine``: the ``hanet-refine`` command line (see :mod:`hanet_refine.cli`)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
