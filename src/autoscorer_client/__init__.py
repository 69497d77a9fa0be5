"""``autoscorer_client``: the name the API contract imports the Python SDK under.

    from autoscorer_client import AutoScorerClient

Everything here is :mod:`autoscorer.client`, re-exported unchanged.
"""

from autoscorer.client import *  # noqa: F403 -- the SDK's curated __all__
from autoscorer.client import __all__ as __all__
