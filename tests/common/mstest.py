"""mstest.py - the shared bits of the Python test scripts: named checks that
count passes and failures and the closing "N passed, N failed" line that CI
reads."""
import sys


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, cond, detail=""):
        """Record one named check; print the detail when it fails."""
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")
        return bool(cond)

    def finish(self):
        """Print the closing line and exit non-zero if anything failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
