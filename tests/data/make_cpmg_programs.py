"""Make tests/data/cpmg_programs/: SYNTHETIC CPMG echo trains with pulse programs (nothing measured).

The pulse programs below were written for these tests in TopSpin syntax (they are not Bruker
files). Each data set: acqus (P/D/L arrays), pulseprogram, fid (10 echoes of 64 points at SW
50 kHz, two Lorentzian lines, T2 decay of the echoes, seed 7).

* ``fid_train``: acquisition started right after the 90 (echo 0 = the FID), loop
  ``d6 d3 (p2):f1 d3 d6`` x l22 -> tau = P2 + 2 D3 + 2 D6 = 1.28 ms, L22 + 1 = 10 echoes.
* ``relation_decoupled``: the same train with ``"p2=p1*2"`` in the program and a simultaneous
  shorter f2 pulse ``(p2 ph2):f1 (p4 ph0):f2`` (counts once) -> tau = 2 P1 + 2 D3 + 2 D6.
* ``t2_filter``: the loop runs before ``go=2`` (a T2 filter, echoes not digitised) -> refused.
* ``unknown_name``: the loop holds a delay DELTA9 the program never defines -> refused.

Run:  PYTHONPATH=. python tests/data/make_cpmg_programs.py   (rewrites the folder)
"""

import shutil
from pathlib import Path

import numpy as np

from respdor.spectra.bruker import write_bruker

OUT = Path(__file__).with_name("cpmg_programs")
SW, NPE, NE = 50_000.0, 64, 10
P1_US, P4_US, D3_S, D6_S = 2.5, 3.0, 20e-6, 617.5e-6   # 5 + 40 + 1235 us = 1280 us = 64 dwells

HEAD = "; respdor test program (SYNTHETIC, written for tests/test_cpmg_programs.py)\n"
TRAIN = """1 ze
2 d1
  (p1 ph1):f1
  1u ACQ_START(ph30,ph31)
3 d6
  d3
  {pulse}
  d3
  d6
  lo to 3 times l22
  1u eoscnp
  rcyc=2
exit

ph1=0 2
ph2=1 1 3 3
ph30=0
ph31=0 2
"""
PROGRAMS = {
    "fid_train": HEAD + '"p2=5u"\n' + TRAIN.format(pulse="(p2 ph2):f1"),
    "relation_decoupled": HEAD + '"p2=p1*2"\n' + TRAIN.format(pulse="(p2 ph2):f1 (p4 ph0):f2"),
    "t2_filter": HEAD + """1 ze
2 d1
  (p1 ph1):f1
3 d6
  (p2 ph2):f1
  d6
  lo to 3 times l22
  go=2 ph31
  30m mc #0 to 2 F0(zd)
exit
""",
    "unknown_name": HEAD + TRAIN.format(pulse="(p2 ph2):f1\n  DELTA9"),
}


def train(rng):
    tau = NPE / SW
    t = np.arange(NPE * NE) / SW
    m = np.floor(t / tau + 0.5)
    tl = t - m * tau
    sig = sum(a * np.exp(2j * np.pi * nu * tl - np.abs(tl) * np.pi * 400.0) for nu, a in ((3000.0, 1.0), (-5000.0, 0.6)))
    sig = sig * np.exp(-m * tau / 10e-3)
    sig[tl < 0] *= m[tl < 0] > 0
    return sig + 0.02 * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))


def main():
    rng = np.random.default_rng(7)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    extra = {"P": [0.0, P1_US, 0.0, 0.0, P4_US] + [0.0] * 59, "D": [0.0, 1.0, 0.0, D3_S, 0.0, 0.0, D6_S] + [0.0] * 57,
             "L": [0] * 22 + [NE - 1] + [0] * 9}
    for name, text in PROGRAMS.items():
        write_bruker(OUT / name, train(rng), sw_hz=SW, bf1_mhz=88.8, sfo1_mhz=88.8, nucleus="113Cd", pulprog=name,
                     extra_acqus=extra, pulseprogram=text, title=f"SYNTHETIC CPMG train, program {name}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
