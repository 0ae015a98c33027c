"""`python -m relay_bench.fuzz` (`make fuzz`): the fuzz suite of tests/fuzz with a larger budget than `make test`.

The same tests (schemathesis over every service's OpenAPI through the gateway, generated provider webhooks), with
`RELAY_FUZZ_EXAMPLES` cases per operation and generation mode (default here 200, against 10 in `make test`) and a
seed that is printed, so a finding can be replayed with `RELAY_FUZZ_SEED=<seed>`.
"""

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relay_bench.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=int(os.environ.get("RELAY_FUZZ_EXAMPLES", "200")),
                        help="generated cases per API operation and generation mode (webhooks: 4 × this each)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RELAY_FUZZ_SEED") or random.randrange(2**32)),
                        help="Hypothesis seed, to replay a run")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (e.g. -k webhook)")
    args = parser.parse_args(argv)
    env = {**os.environ, "RELAY_FUZZ_EXAMPLES": str(args.examples), "RELAY_FUZZ_SEED": str(args.seed)}
    print(f"fuzzing with RELAY_FUZZ_EXAMPLES={args.examples} RELAY_FUZZ_SEED={args.seed}", flush=True)
    command = [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-rA", "-p", "no:cacheprovider", *args.pytest_args]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
