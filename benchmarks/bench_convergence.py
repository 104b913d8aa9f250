"""Cost and outcome of the powder / gamma / step convergence check on the reference cases.

Runs, each as a separate process, and prints its CPU time and the check's lines:

1. ``respdor structure`` on a 13C with two 27Al (D = 503 and 300 Hz, 110 deg apart, ideal
   saturation, no Al-Al coupling, 3 ms) with the default powder (checked and refined);
2. the first command of docs/structures.md (the model acetate, partner couplings, 8 ms), with the
   default powder, and with ``--powder 610 --gamma 16`` (explicit: no check) for comparison;
3. ``respdor simulate`` of data/c13_al27_respdor.toml with ``[powder] n = 987, n_gamma = 16`` and
   ``--check-convergence`` (an explicit, unconverged gamma count);
4. the bundled spec itself with ``--check-convergence``.

Usage: ``python benchmarks/bench_convergence.py [--quick]`` (``--quick``: case 1 only).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run(args, cwd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([sys.executable, "-m", "respdor", *args], cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"$ respdor {' '.join(args)}\n  exit {p.returncode}, {cpu:.1f} CPU s")
    for line in p.stderr.splitlines():
        if any(k in line for k in ("convergence", "orientations", "gamma angles", "time step", "apparent")):
            print("  " + line.strip())
    return p


def main():
    from spinsim import distance_from_coupling

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        r1, r2 = distance_from_coupling(503, "13C", "27Al"), distance_from_coupling(300, "13C", "27Al")
        a = np.radians(110.0)
        (tmp / "c2al.xyz").write_text(f"3\nC, two Al\nC 0 0 0\nAl 0 0 {r1:.6f}\n"
                                      f"Al {r2 * np.sin(a):.6f} 0 {r2 * np.cos(a):.6f}\n")
        run(["structure", "c2al.xyz", "--observe", "C", "--partner", "27Al", "--no-partner-couplings",
             "--t-max", "3ms", "--no-files"], tmp)
        if "--quick" in sys.argv:
            return
        model = str(ROOT / "data" / "al_carboxylate_model.xyz")
        doc = ["structure", model, "--observe", "C[O2]", "--partner", "27Al", "--cutoff", "4A", "--max-partners", "3",
               "--no-files"]
        run(doc, tmp)
        run(doc + ["--powder", "610", "--gamma", "16"], tmp)
        spec = (ROOT / "data" / "c13_al27_respdor.toml").read_text()
        (tmp / "g16.toml").write_text(spec.replace("n = 4181", "n = 987").replace("n_gamma = 32", "n_gamma = 16"))
        run(["simulate", "g16.toml", "--no-files", "--plot", "none", "--check-convergence"], tmp)
        run(["simulate", str(ROOT / "data" / "c13_al27_respdor.toml"), "--no-files", "--plot", "none",
             "--check-convergence"], tmp)


if __name__ == "__main__":
    main()
