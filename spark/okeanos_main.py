"""The file that ``spark-submit`` runs; see :mod:`okeanos_spark.main` for its arguments."""

import sys

from okeanos_spark.main import main

if __name__ == "__main__":
    sys.exit(main())
