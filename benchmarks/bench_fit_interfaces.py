"""Does `respdor fit` reach the global optimum on all 23 measured INTERFACES curves?

For each curve (fitted as docs/examples/fit_interfaces.py does: two-spin REDOR, partner abundance
1 because the silica is 29Si-enriched and the 15N labelled, fraction in [0, 1], equal weights) the
fitted chi^2 is compared with an independent brute force: a 4000 x 2001 grid over D (0.1 Hz to
100 kHz, log-spaced) x fraction, the best cell polished by Nelder-Mead. Pass: fitted chi^2 <=
brute-force chi^2 x (1 + 1e-4).

Run:  python benchmarks/bench_fit_interfaces.py [path/to/redor_curves_INTERFACES_perras]
"""

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "docs" / "examples" / "fit_interfaces.py"


def _script():
    spec = importlib.util.spec_from_file_location("fit_interfaces", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    module = _script()
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else module.ROOT
    files = module.curve_files(root)
    if not files:
        sys.exit(f"no curves under {root}")
    print(f"{'curve':<26}{'D fit':>9}{'D grid':>9}{'f fit':>7}{'f grid':>7}{'chi2 fit':>12}{'chi2 grid':>12}"
          f"{'rel diff':>10}  ok")
    n_ok = 0
    start = time.perf_counter()
    for path in files:
        curve, model, r = module.fit_one(path)
        chi_b, d_b, f_b = module.brute_force(curve, model)
        rel = (r.chisqr - chi_b) / chi_b
        ok = r.chisqr <= chi_b * (1 + 1e-4)
        n_ok += ok
        print(f"{path.parent.name + '/' + path.stem:<26}{r.value('coupling_hz'):>9.2f}{d_b:>9.2f}"
              f"{r.value('fraction'):>7.3f}{f_b:>7.3f}{r.chisqr:>12.6g}{chi_b:>12.6g}{rel:>+10.1e}  "
              f"{'yes' if ok else 'NO'}")
    print(f"{n_ok}/{len(files)} fits at the brute-force optimum (relative 1e-4); "
          f"{time.perf_counter() - start:.0f} s")
    return 0 if n_ok == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
