"""A network shape compiles once per machine: later sessions, in this process or another, rerun its binary.

Brian names code objects after the live objects, and writes clock set-up in the
order of a set hashed by address; either made a cached project's sources differ
from build to build, and the estimator compiled on every fit and predict.
"""

import os
import subprocess
import sys

import numpy as np
from sklearn.datasets import load_digits

from brianlab import simulation
from brianlab.models.stdp_digits import STDPDigitClassifier

FIT = """
import sys
from sklearn.datasets import load_digits
from brianlab.models.stdp_digits import STDPDigitClassifier
d = load_digits()
keep = d.target < 2
STDPDigitClassifier(n_per_class=1, device="cpp_standalone", random_state=int(sys.argv[1])).fit(d.data[keep][:16], d.target[keep][:16])
"""


def binaries(cache):
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in cache.glob("*/slot-*/*/main")}


def test_fits_and_predicts_of_one_shape_compile_once(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BRIANLAB_BUILD_CACHE", str(cache))
    digits = load_digits()
    keep = digits.target < 2
    X, y = digits.data[keep][:16], digits.target[keep][:16]
    compiles = []
    original = simulation.Program._build_project

    def counted(program):
        before = program.n_compiles
        original(program)
        compiles.append(program.n_compiles - before)

    monkeypatch.setattr(simulation.Program, "_build_project", counted)
    first = STDPDigitClassifier(n_per_class=1, device="cpp_standalone", random_state=0).fit(X, y)
    first.predict(X)
    STDPDigitClassifier(n_per_class=1, device="cpp_standalone", random_state=1).fit(X, y).predict(X[:4])
    assert compiles == [1, 0, 0, 0]  # one build per fit and predict, and only the first compiled
    built = binaries(cache)
    assert len(built) == 1

    # another process, with other addresses and a fresh name registry, finds the same sources
    subprocess.run([sys.executable, "-c", FIT, "2"], check=True, capture_output=True,
                   env={**os.environ, "BRIANLAB_BUILD_CACHE": str(cache)})
    assert binaries(cache) == built


def test_only_clock_order_counts_as_the_same_main():
    main = ["int main() {", "  _array_a_clock_t[0] = 0.0;", "  _array_defaultclock_t[0] = 0.0;", "  run();", "}"]
    swapped = [main[0], main[2], main[1], *main[3:]]
    assert simulation._canonical_main("\n".join(main)) == simulation._canonical_main("\n".join(swapped))
    changed = [*main[:3], "  run(); run();", "}"]
    assert simulation._canonical_main("\n".join(main)) != simulation._canonical_main("\n".join(changed))
    moved = [main[0], main[3], main[1], main[2], main[4]]  # a clock line past other code is not equivalent
    assert simulation._canonical_main("\n".join(main)) != simulation._canonical_main("\n".join(moved))
    assert np.all([simulation._CLOCK_RESET.match(line) for line in main[1:3]])
