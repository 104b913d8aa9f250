"""Write the tiny synthetic Bruker fixtures used by the tests (run from the repository root).

* ``bruker_113Cd_1d``: 1D 113Cd fid, one CSA site at -300 ppm spinning at 8 kHz, with acqus
  MASR deliberately stale (5000 Hz) and no digital filter; 512 complex points.
* ``bruker_respdor_pseudo2d``: interleaved S0/S1 ser (2 x 6 rows of 256 points) with a vclist
  of 6 loop counters; S1/S0 = 1 - 0.4 (1 - exp(-n/8)) for counter n.

    python tests/data/make_bruker_fixtures.py [--force]
"""

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from respdor.spectra.bruker import write_bruker  # noqa: E402
from spinsim.sidebands import sideband_intensities  # noqa: E402

BF1 = 400.13 * 0.22193175  # 113Cd reference frequency on a 400.13 MHz magnet, MHz
VC = [2, 4, 8, 16, 24, 32]


def ratio(n):
    return 1.0 - 0.4 * (1.0 - np.exp(-n / 8.0))


def main():
    force = "--force" in sys.argv
    for name in ("bruker_113Cd_1d", "bruker_respdor_pseudo2d"):
        if (HERE / name).exists():
            if not force:
                sys.exit(f"{HERE / name} exists; --force to remake")
            shutil.rmtree(HERE / name)
    rng = np.random.default_rng(7)
    sw, n = 50000.0, 512
    t = np.arange(n) / sw
    carrier = -300.0
    sfo1 = BF1 * (1 + carrier * 1e-6)
    man = sideband_intensities(400.0, 0.2, BF1 * 1e6, 8000.0, n_sidebands=3)
    fid = np.zeros(n, complex)
    for k, ik in zip(man.orders, man.intensities):
        fid += ik * np.exp(2j * np.pi * (k * 8000.0) * t)
    fid *= np.exp(-np.pi * 300.0 * t)
    fid += 0.002 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    write_bruker(HERE / "bruker_113Cd_1d", fid, sw, BF1, sfo1, "113Cd", mas_hz=5000.0,
                 title="SYNTHETIC 113Cd MAS test fixture: true MAS 8000 Hz, MASR stale at 5000")
    sw2, n2 = 20000.0, 256
    t2 = np.arange(n2) / sw2
    rows = []
    for v in VC:
        f = np.exp(2j * np.pi * 1500.0 * t2 - 200.0 * t2)
        rows += [f, ratio(v) * f]
    ser = np.array(rows) + 0.003 * (rng.standard_normal((2 * len(VC), n2)) + 1j * rng.standard_normal((2 * len(VC), n2)))
    write_bruker(HERE / "bruker_respdor_pseudo2d", ser, sw2, 100.6, 100.6, "13C", mas_hz=10000.0, vclist=VC,
                 title="SYNTHETIC interleaved S0/S1 series test fixture")
    print("fixtures written")


if __name__ == "__main__":
    main()
