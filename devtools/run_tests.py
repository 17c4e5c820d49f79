"""`make test`: the unit level (with the tests that run in processes of their own, such as the demo's
end-to-end run) and the local-AWS levels side by side, in separate pytest processes.

The moto-based unit tests must not share a process with the embedded local AWS (starting moto's mock resets
the process-global backends it uses). The local-AWS tests spend much of their time waiting on simulated
clocks and worker processes, so the unit tests run meanwhile; the unit level's output is shown when it
ends, then the other's. The exit status is the first non-zero one.

    python -m devtools.run_tests [pytest arguments for both levels]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

# Tests marked own_process (the demo's end-to-end run, `make serve`, pip install) start what they test in
# processes of their own, with no local AWS in pytest's process, so they can share the unit tests' session.
UNIT = ["-n", "2", "-m", "unit or own_process", "tests"]
LOCAL_AWS = ["-n", "2", "--dist", "loadfile", "-m", "not unit and not own_process", "tests"]


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as unit_output:
        unit = subprocess.Popen(  # noqa: S603 - this interpreter running pytest
            [sys.executable, "-m", "pytest", *UNIT, *extra], stdout=unit_output, stderr=subprocess.STDOUT
        )
        print("unit tests (moto) and the demo run alongside; their report follows", flush=True)
        local_aws = subprocess.run([sys.executable, "-m", "pytest", *LOCAL_AWS, *extra], check=False)  # noqa: S603
        unit_code = unit.wait()
        unit_output.seek(0)
        print("\n---- unit tests (moto) and the demo ----", flush=True)
        sys.stdout.write(unit_output.read())
    print(f"make test: {time.monotonic() - started:.0f} s in all", flush=True)
    return unit_code or local_aws.returncode


if __name__ == "__main__":
    sys.exit(main())
