"""The SDK stands apart from the server: importing it loads no server module, and its
copy of the server's error tree names every code the server has."""

from __future__ import annotations

import json
import subprocess
import sys

from autoscorer import errors as server_errors
from autoscorer.client._errors import _ANCESTOR, _BY_CODE


def test_importing_the_sdk_loads_no_server_module() -> None:
    code = (
        "import json, sys, autoscorer_client\n"
        "client = autoscorer_client.AutoScorerClient('http://127.0.0.1:9')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('autoscorer'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    sdk = ("autoscorer", "autoscorer_client", "autoscorer.client")
    assert [m for m in loaded if m not in sdk and not m.startswith("autoscorer.client.")] == []
    assert "autoscorer.client.webhooks" in loaded


def test_every_server_code_has_an_sdk_class_or_a_listed_ancestor() -> None:
    tree = server_errors._all_subclasses(server_errors.AutoScorerError)
    codes = {cls.code for cls in tree}
    assert codes - _BY_CODE.keys() == _ANCESTOR.keys()
    for cls in tree:
        if cls.code in _ANCESTOR:
            assert _ANCESTOR[cls.code] in {getattr(a, "code", None) for a in cls.__mro__}
