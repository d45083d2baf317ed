import resource
import subprocess
import sys

import launchbay


def test_the_open_file_limit_is_raised_only_when_asked() -> None:
    """A library caller's limit is left alone by runs; raising it is explicit."""
    code = (
        "import resource, launchbay\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "launchbay.Process(command=['true']).run()\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(launchbay.raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    untouched, raised = done.stdout.split("\n")[:2]
    assert untouched == "256"
    assert raised.endswith("True")


def test_raising_never_lowers() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert launchbay.raise_open_file_limit(target=8) >= soft
