"""CPMG echo trains: echo period from the pulse program, echo summation, spikelet spectra.

A CPMG acquisition digitises one FID and then echoes at multiples of the echo period tau
(the 180-degree pulses refocus the shift evolution between them). Summing the echoes
coherently before the Fourier transform gives the spectrum of one echo with the signal of all
of them: with echo amplitudes a_m (decaying with T2) and independent noise per echo, the
signal-to-noise ratio grows by sum(a_m) / sqrt(sum(a_m^2) ...) ~ sqrt(number of echoes within
T2). The Fourier transform of the whole train instead gives a spikelet spectrum (lines
every 1/tau Hz under the static/MAS envelope).

Layout (as the fixture's pulse program ``respdor_cpmg`` defines it): sampling is continuous;
echo m (m = 0 is the FID) has its top at t = m tau, so echo m occupies points
[m N, m N + N) with N = tau / dwell; the half echo from each top, of N/2 points, is summed.

Echo period from the data set (:func:`echo_parameters` without ``echo_period_s``):

* ``respdor_cpmg`` (the synthetic fixture, whose pulseprogram file holds comments only):
  tau = P2 + 2 D3 + 2 D6, echoes = L22 + 1.
* Any other program is read from the data set's own ``pulseprogram`` file
  (:func:`echo_loop_from_pulseprogram`): the echo train is the loop ``N ... lo to N times lK``
  that runs after the acquisition has been started (``adc`` / ``ACQ_START``, as in the QCPMG
  programs of Larsen et al., J. Phys. Chem. A 101, 8597 (1997) and their TopSpin versions) and
  holds a pulse; tau = the duration of one pass through the loop, summed from its own statements
  with the acqus values (Dn in s, Pn in us, literal times such as ``1u``; simultaneous
  ``(...):f1 (...):f2`` groups count once, the longest), and echoes = LK + 1 (the echo before
  the loop plus one per pass). For the usual QCPMG loop ``d3 (p2):f1 d3 d6`` this is
  tau = P2 + 2 D3 + D6 (D6 the full echo window). Relations in the program (``"d3=d6/2-p2/2"``)
  are evaluated first.
* A program whose loop runs before the acquisition (TopSpin's ``cpmg`` T2 filter: the echoes
  are not digitised), or with names this reader cannot time, is refused: give the echo period.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import DataFileError, UserError

__all__ = ["KNOWN_PROGRAMS", "echo_parameters", "echo_loop_from_pulseprogram", "echo_top_offset", "sum_echoes",
           "spikelet_fid"]


def _arr(acqus, key, idx, path):
    vals = acqus.get(key)
    try:
        return float(vals[idx])
    except (TypeError, IndexError, ValueError):
        raise DataFileError(path, f"acqus {key}{idx} is missing; give echo_period_s") from None


def _respdor_cpmg(acqus, path):
    tau = _arr(acqus, "P", 2, path) * 1e-6 + 2 * _arr(acqus, "D", 3, path) + 2 * _arr(acqus, "D", 6, path)
    return tau, int(_arr(acqus, "L", 22, path)) + 1


KNOWN_PROGRAMS = {"respdor_cpmg": _respdor_cpmg}


_UNITS = {"": 1.0, "s": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_ACQ_START = re.compile(r"\b(adc|ACQ_START|gosc)\b", re.I)


def _param(acqus, name):
    """Value of a pulse-program name from acqus: dN in s, pN in s (acqus P is in us), lN, cnstN."""
    m = re.fullmatch(r"(d|p|l|cnst|in)(\d+)", name.lower())
    if not m:
        return None
    key, i = {"d": "D", "p": "P", "l": "L", "cnst": "CNST", "in": "IN"}[m.group(1)], int(m.group(2))
    try:
        v = float(acqus[key][i])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return v * 1e-6 if key == "P" else v


def _evaluate(expr, env):
    """Arithmetic of a pulse-program relation (+ - * / parentheses, numbers with unit suffix, names)."""
    import ast

    text = re.sub(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)([umns])(?![\w])",
                  lambda m: repr(float(m.group(1)) * _UNITS[m.group(2)]), expr)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            v = env(node.id)
            if v is None:
                raise KeyError(node.id)
            return v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b, ast.Div: a / b if b else float("nan")}[type(node.op)]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -ev(node.operand) if isinstance(node.op, ast.USub) else ev(node.operand)
        raise KeyError(ast.dump(node)[:40])

    return ev(ast.parse(text.strip(), mode="eval"))


def _statement_time(line, env):
    """Duration (s) of one pulse-program line: the longest of its simultaneous parts.

    Raises KeyError naming what cannot be timed: a nested label or loop, a control statement
    (lo, if, goto, ...), or a name neither in acqus nor defined by the program.
    """
    group = r"\(([^()]*)\)\s*(?::f\d)?"
    groups = re.findall(group, line)
    lead = re.sub(group, " ", line).split()
    times = [sum(_token_time(t, env, strict=False) for t in g.split()) for g in groups]
    if lead:
        if re.fullmatch(r"\d+,?", lead[0]) and len(lead) > 1:
            raise KeyError(f"label {lead[0]} (a loop inside the echo loop)")
        t = _token_time(lead[0], env, strict=True)
        times.append(t)
    return max(times) if times else 0.0


def _token_time(tok, env, strict):
    """Time (s) of a token: Pn / Pn:spN (s), Dn, literal with unit (1u, 10m), a program-defined
    NAME; other tokens (phases, powers, ph30:r, adc ...) last 0 inside a group and are refused as
    the first token of a line (``strict``), where TopSpin expects the duration."""
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([umns])", tok)
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)]
    m = re.fullmatch(r"([dp]\d+)(?::sp\d+)?", tok)
    if m or re.fullmatch(r"[A-Z][A-Z0-9_]*", tok):
        v = env(m.group(1) if m else tok)
        if v is None:
            raise KeyError(tok)
        return v
    if strict:
        raise KeyError(tok)
    return 0.0


def echo_loop_from_pulseprogram(text, acqus):
    """Echo period (s) and echo count of a CPMG-acquired program (rules in the module docstring).

    Parameters
    ----------
    text : str
        The data set's ``pulseprogram`` file.
    acqus : dict
        Its acquisition parameters (D in s, P in us, L counters).

    Returns
    -------
    tau_s : float
    n_echoes : int
    formula : str
        The loop as read, e.g. ``"d3 (p2 ph2):f1 d3 d6 x (l22 + 1)"``.

    Raises
    ------
    ValueError
        With the reason, when no digitised echo loop is found or a name cannot be timed.
    """
    lines = [ln.split(";")[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    defined = {}
    for ln in lines:
        for name, expr in re.findall(r'"\s*(\w+)\s*=\s*([^"]+)"', ln):
            defined[name] = expr

    def env(name, depth=0):
        if name in defined and depth < 10:
            return _evaluate(defined[name], lambda n: env(n, depth + 1))
        return _param(acqus, name)

    body = [ln for ln in lines if not ln.startswith('"') and not re.match(r"(ph\d+|ph31)\s*=", ln)]
    started = next((i for i, ln in enumerate(body) if _ACQ_START.search(ln)), None)
    inside, before = [], []
    for i, ln in enumerate(body):
        m = re.search(r"lo\s+to\s+(\w+)\s+times\s+(l\d+)", ln)
        if not m:
            continue
        label = m.group(1)
        start = next((j for j in range(i, -1, -1) if re.match(rf"{re.escape(label)}[\s,]", body[j] + " ")), None)
        if start is None:
            continue
        loop = [re.sub(rf"^{re.escape(label)},?\s+", "", body[start])] + body[start + 1:i]
        if not any(re.search(r"\(\s*p\d+", x) for x in loop):
            continue  # no pulse in it: not a refocusing loop
        (inside if started is not None and started < start else before).append((label, m.group(2), loop))
    if len(inside) > 1:
        raise ValueError(f"{len(inside)} pulse loops inside the acquisition (labels "
                         f"{', '.join(x[0] for x in inside)}): which one is the echo train is not clear")
    if not inside:
        if before:
            label, _, loop = before[0]
            raise ValueError(f"the loop '{label}' ({' '.join(loop)}) runs before the acquisition starts: "
                             "a T2 filter, not a digitised echo train")
        raise ValueError("no loop with a pulse inside the acquisition ('N ... lo to N times lK' after adc/ACQ_START)")
    label, counter, loop = inside[0]
    count = _param(acqus, counter)
    if count is None:
        raise ValueError(f"acqus has no {counter.upper()}")
    try:
        tau = sum(_statement_time(x, env) for x in loop)
    except (KeyError, SyntaxError) as exc:
        raise ValueError(f"cannot time '{exc.args[0] if exc.args else exc}' in the echo loop ({' '.join(loop)})") from None
    if not tau > 0:
        raise ValueError(f"the echo loop ({' '.join(loop)}) lasts {tau} s")
    return tau, int(count) + 1, f"{' '.join(loop)} x ({counter} + 1)"


def _from_pulseprogram_file(ds, prog, notes):
    path = ds.path / "pulseprogram"
    if not path.is_file():
        raise DataFileError(path, f"not found: the echo period of PULPROG {prog!r} cannot be read from the data set; "
                                  "give echo_period_s")
    from ..files import read_text

    try:
        tau, n, formula = echo_loop_from_pulseprogram(read_text(path, "pulseprogram"), ds.acqus)
    except ValueError as exc:
        raise DataFileError(path, f"PULPROG {prog!r}: {exc}; give echo_period_s") from None
    notes.append(f"echo period {tau * 1e6:.1f} us and {n} echoes from the echo loop of {prog}: {formula}")
    return tau, n


def echo_parameters(ds, echo_period_s=None, n_echoes=None):
    """Echo period (s), points per echo and number of echoes of a CPMG data set.

    Parameters
    ----------
    ds : BrukerDataset
    echo_period_s : float, optional
        Overrides the pulse program.
    n_echoes : int, optional
        Overrides the pulse program (default there: as many as fit in the FID).

    Returns
    -------
    tau_s : float
    n_per_echo : int
    n_echoes : int
    notes : list of str
    """
    prog = str(ds.acqus.get("PULPROG", "")).strip("<>")
    notes = []
    n_total = ds.data.shape[-1]
    if echo_period_s is None:
        if prog in KNOWN_PROGRAMS:
            tau, n_prog = KNOWN_PROGRAMS[prog](ds.acqus, ds.path / "acqus")
            notes.append(f"echo period {tau * 1e6:.1f} us and {n_prog} echoes from the pulse program {prog}")
        else:
            tau, n_prog = _from_pulseprogram_file(ds, prog, notes)
        n_echoes = n_echoes or n_prog
        fit = n_total // max(1, int(round(tau / ds.dwell_s)))
        if n_echoes > fit and n_echoes == n_prog:
            notes.append(f"the pulse program acquires {n_prog} echoes; {fit} fit in the {n_total} points stored")
            n_echoes = fit
    else:
        tau = float(echo_period_s)
        notes.append(f"echo period {tau * 1e6:.1f} us as given")
    if not tau > 0:
        raise UserError(f"echo period must be > 0, got {tau!r} s")
    npe = tau / ds.dwell_s
    if abs(npe - round(npe)) > 1e-3 * npe:
        raise UserError(f"echo period {tau * 1e6:.3f} us is {npe:.3f} dwell times, not a whole number: the echoes "
                        "cannot be summed point by point (check echo_period_s or SW)")
    npe = int(round(npe))
    fit = n_total // npe
    if n_echoes is None:
        n_echoes = fit
    if n_echoes > fit:
        raise DataFileError(ds.path, f"{n_echoes} echoes of {npe} points need {n_echoes * npe} points; the FID has {n_total}")
    if n_echoes < 1 or npe < 4:
        raise UserError(f"echo train too short: {n_echoes} echoes of {npe} points")
    return tau, npe, int(n_echoes), notes


def echo_top_offset(fid, n_per_echo: int, n_echoes: int) -> int:
    """Where the echo tops sit within each period (points from the period start), from the data.

    The magnitude of echoes 1..n-1 (all rows of a ser added) is folded at the period and its
    maximum taken (where all lines are in phase): 0 for a train whose tops fall on the period
    boundaries (the ``respdor_cpmg`` layout, echo 0 = the FID), about half a period for full-echo
    windows (QCPMG programs acquire d6 around each top). A maximum in the last 2 points is the
    next top sampled just early: 0. Returns 0 when fewer than 2 echoes are stored.
    """
    x = np.abs(np.asarray(fid))
    x = x.reshape(-1, x.shape[-1]).sum(axis=0)
    m = min(int(n_echoes), x.size // n_per_echo)
    if m < 2:
        return 0
    fold = x[n_per_echo: m * n_per_echo].reshape(m - 1, n_per_echo).mean(axis=0)
    k = int(np.argmax(fold))
    return 0 if k >= n_per_echo - 2 else k


def sum_echoes(fid, n_per_echo: int, n_echoes: int, first: int = 0, offset: int = 0):
    """Coherent sum of the half echoes (each from its top, n_per_echo // 2 points) of a train.

    Parameters
    ----------
    fid : ndarray
        Complex echo train(s), time on the last axis.
    n_per_echo, n_echoes : int
    first : int
        First echo used (0 = the FID).
    offset : int
        Points from each period start to its echo top (:func:`echo_top_offset`).

    Returns
    -------
    ndarray
        Summed half echo(es), n_per_echo // 2 points.
    """
    fid = np.asarray(fid, complex)
    half = n_per_echo // 2
    out = np.zeros(fid.shape[:-1] + (half,), complex)
    for m in range(first, n_echoes):
        a = offset + m * n_per_echo
        if a + half > fid.shape[-1]:
            break
        out += fid[..., a: a + half]
    return out


def spikelet_fid(fid, n_per_echo: int, n_echoes: int):
    """The whole train (n_echoes x n_per_echo points) for a spikelet spectrum."""
    return np.asarray(fid, complex)[..., : n_per_echo * n_echoes]
