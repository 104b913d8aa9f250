"""A bridge to SIMPSON (Bak, Rasmussen & Nielsen, JMR 147, 296, 2000) for cross-checks.

:func:`simpson_input` writes the SIMPSON input file of the experiment a spinsim spec describes
(spin system, powder, the pulse sequence event by event, S0 and S1 as two ``fsimpson`` runs),
with every convention mapped by :mod:`spinsim.conventions`; :func:`read_fsave` reads SIMPSON's
``fsave`` output and :func:`simpson_curve` turns the two FIDs into S0, S1 and dS/S0 with spinsim's
phasing (S0 = |S0|, S1 phased like S0).

Plain Python; nothing here runs SIMPSON. The input uses: ``reset`` before each recoupling time
(SIMPSON 4.2.3's ``reset`` puts the density matrix back to the start operator, the propagator to
unity and the time to the crystallite's start, so each point starts at the same rotor phase as in
spinsim; it also clears ``offset``, so the offsets are set after it),
``pulseid`` for ideal pulses, ``pulse``/``delay`` for everything else (times in us, rf in Hz,
phases in degrees), ``start_operator I1x`` and ``detect_operator I1p``. Checked against a SIMPSON
4.2.3 build (docs/simulation.md, "SIMPSON bridge").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["simpson_input", "write_simpson", "read_fsave", "simpson_curve"]

_GAMMA_1H = 267522187.44  # rad s^-1 T^-1 (CODATA 2018)


def _events_tcl(events, channels, indent="    "):
    """SIMPSON pulse/delay/pulseid lines for a list of spinsim Events."""
    out = []
    for e in events:
        if e.ideal is not None:
            ch, flip, ph = e.ideal
            rf = []
            for c in channels:
                # pulseid: flip angle = 360 * rf * duration(us) * 1e-6 -> 1 us at flip/360 MHz
                rf += [f"{flip / 360 * 1e6:.10g}" if c == ch else "0", f"{ph:.10g}" if c == ch else "0"]
            out.append(f"{indent}pulseid 1 {' '.join(rf)}")
        if e.duration <= 0:
            continue
        if not any(a > 0 for a, _ in e.rf.values()):
            out.append(f"{indent}delay {e.duration * 1e6:.10g}")
            continue
        rf = []
        for c in channels:
            a, p = e.rf.get(c, (0.0, 0.0))
            rf += [f"{a:.10g}", f"{p:.10g}"]
        out.append(f"{indent}pulse {e.duration * 1e6:.10g} {' '.join(rf)}")
    return out


def _deg(angles):
    """Degrees, without the "-0" of a negated zero."""
    return np.degrees(np.asarray(angles, float)) + 0.0


def _spinsys(system):
    from .conventions import efg_euler_to_simpson, euler_to_simpson

    chans = system.channels()
    lines = ["spinsys {", f"  channels {' '.join(chans)}", f"  nuclei {' '.join(s.isotope.symbol for s in system.spins)}"]
    for k, s in enumerate(system.spins, 1):
        if s.shift_ppm or s.csa_zeta_ppm:
            a, b, c = _deg(euler_to_simpson(s.csa_euler))
            lines.append(f"  shift {k} {s.shift_ppm:.10g}p {s.csa_zeta_ppm:.10g}p {s.csa_eta:.10g} "
                         f"{a:.10g} {b:.10g} {c:.10g}")
        if s.cq_hz:
            a, b, c = _deg(efg_euler_to_simpson(s.q_euler))
            lines.append(f"  quadrupole {k} 2 {s.cq_hz:.10g} {s.eta_q:.10g} {a:.10g} {b:.10g} {c:.10g}")
    for d in system.dipolar:
        sign = np.sign(system.spins[d.i].isotope.gamma * system.spins[d.j].isotope.gamma)
        a, b, c = _deg(euler_to_simpson(d.euler))
        # SIMPSON's b_ij = -(mu0/4pi) gamma_i gamma_j hbar / (2 pi r^3) in Hz (SIMPSON refuses the
        # other sign unless dipole_check is false); spinsim's D = |b_ij|
        lines.append(f"  dipole {d.i + 1} {d.j + 1} {-sign * d.d_hz:.10g} {a:.10g} {b:.10g} {c:.10g}")
    for j in system.j:
        lines.append(f"  jcoupling {j.i + 1} {j.j + 1} {j.j_hz:.10g} 0 0 0 0 0")
    lines.append("}")
    return lines, chans


def _whole_periods(duration, mas_rate):
    """True when ``duration`` (s) is a whole number (>= 0) of rotor periods."""
    k = duration * mas_rate
    return abs(k - round(k)) < 1e-9


def _pulseq_body(ns, offsets, synchronised):
    """The points of the curve: every t_rec from a ``reset`` (which also clears ``offset``).

    When the cycle and the centre block last whole rotor periods, their propagators do not depend
    on when they start: SIMPSON computes each once per crystallite (``store``) and every point
    applies them (``prop``), as a SIMPSON user would write it; otherwise each point is run event by
    event.
    """
    off = [f"    offset {offsets}"] if offsets else []
    loop = f"  foreach n {{{' '.join(str(n) for n in ns)}}} {{"
    if synchronised:
        return ["  reset", *[x[2:] for x in off], "  cycle", "  store 1",
                "  reset", *[x[2:] for x in off], "  centre", "  store 2",
                loop, "    reset", "    prop 1 $n", "    prop 2", "    prop 1 $n", "    acq", "  }"]
    return [loop, "    reset", *off, "    for {set k 0} {$k < $n} {incr k} { cycle }", "    centre",
            "    for {set k 0} {$k < $n} {incr k} { cycle }", "    acq", "  }"]


def simpson_input(spec, name="spinsim"):
    """The SIMPSON input (text) and crystal file (text) of a spec's experiment.

    Parameters
    ----------
    spec : Spec, path or dict
        A spinsim spec (:func:`spinsim.spec.load_spec`).
    name : str
        Stem of the crystal file and of the FIDs SIMPSON writes (``NAME_S0.fid``, ``NAME_S1.fid``).

    Returns
    -------
    (str, str)
        Input file text, crystal file text (``NAME.cry``, SIMPSON angles).

    Raises
    ------
    ValueError
        For what SIMPSON cannot run the same way (ideal incoherent saturation, rf inhomogeneity).
    """
    from .spec import load_spec

    sp = load_spec(spec)
    system = sp.system
    cycle, centre, centre_on, off = _exported_blocks(sp)
    ns = np.rint(sp.times_s / (2 * cycle.duration)).astype(int)
    spinsys, chans = _spinsys(system)
    offs = " ".join(f"{sp.offsets.get(c, 0.0):.10g}" for c in chans)
    # SIMPSON's trace runs over the whole space: the interaction-free signal of I1x detected with
    # I1p is 1/2 times the number of states of the other spins; scale the FIDs to make it 1
    scale = 2.0 / np.prod([s.isotope.multiplicity for s in system.spins[1:]])
    lines = [
        f"# SIMPSON input written by spinsim from {sp.source}: {sp.title}",
        "# " + "; ".join(sp.describe() if hasattr(sp, "describe") else []),
        *spinsys,
        "",
        "par {",
        f"  spin_rate        {sp.mas_rate:.10g}",
        f"  proton_frequency {_GAMMA_1H * system.field_t / (2 * np.pi):.10g}",
        f"  crystal_file     {name}",
        f"  gamma_angles     {sp.powder.n_gamma}",
        "  start_operator   I1x",
        "  detect_operator  I1p",
        f"  np               {len(ns)}",
        f"  sw               {sp.mas_rate:.10g}",
        "  method           direct",
        "  verbose          0",
        # the Hamiltonian averaged over each maxdt step, as spinsim's steps are (SIMPSON's default
        # takes it at the start of the step: a first-order error, 7e-4 in dS/S0 at 1.2 ms, 0.5 us)
        "  do_avg           1",
        "  variable sat     1",
        "}",
        "",
        "proc cycle {} {",
        *_events_tcl(cycle.events, chans),
        "}",
        "",
        "proc centre {} {",
        "  global par",
        "  if {$par(sat)} {",
        *_events_tcl(centre_on, chans),
        "  } else {",
        *_events_tcl(off, chans),
        "  }",
        "}",
        "",
        "proc pulseq {} {",
        "  global par",
        f"  maxdt {sp.max_dt * 1e6:.10g}",
        *_pulseq_body(ns, offs if any(sp.offsets.get(c, 0.0) for c in chans) else None,
                      _whole_periods(cycle.duration, sp.mas_rate) and _whole_periods(centre.duration, sp.mas_rate)),
        "}",
        "",
        *_main_tcl(name, scale),
    ]
    return "\n".join(lines) + "\n", _crystal_file(sp.powder)


def _exported_blocks(sp):
    """The recoupling cycle, the centre block, and the centre's events with and without its rf (the
    observed pi pulse at its middle) of a parsed spec; ValueError for what SIMPSON cannot run alike."""
    from .saturation import RF_SATURATION_TYPES
    from .sequences import Block, Event, ideal_pulse, redor_cycle, redor_flip_fractions
    from .simulate import IdealSaturation, _split

    obs = sp.system.spins[0].isotope.symbol
    if getattr(sp, "rf_inhomogeneity", None) is not None:
        raise ValueError("SIMPSON runs one rf amplitude: export the spec without [rf_inhomogeneity]")
    sat = sp.saturation
    redor_partner = sp.kind == "redor" and (sat is None or isinstance(sat, IdealSaturation))
    if isinstance(sat, IdealSaturation) and not redor_partner:
        raise ValueError("an ideal incoherent saturation has no SIMPSON equivalent: use a "
                         f"{', '.join(RF_SATURATION_TYPES[:-1])} or {RF_SATURATION_TYPES[-1]} pulse")
    if sp.kind == "redor" and getattr(sp, "train_channel", obs) != obs:
        raise ValueError("export of a partner-channel REDOR train is not implemented; put the train on "
                         f"{obs} (the two are the same experiment with ideal pulses)")
    if getattr(sp, "cycle_mode", "restart") != "restart":
        raise ValueError("export of [recoupling] cycle = 'truncate' or 'continue' is not implemented")
    if sp.recoupling == "redor":
        cycle = redor_cycle(obs, sp.mas_rate, 0.0, [0.0] * len(redor_flip_fractions(sp.placement)),
                            placement=sp.placement)
    else:
        cycle = sp.recoupling
    centre = Block([ideal_pulse(sp.partner, 180.0, 0.0)]) if redor_partner else sat
    first, second = _split(centre, centre.duration / 2)
    centre_on = first + [ideal_pulse(obs, 180.0, 0.0)] + second
    off = [Event(e.duration) for e in first if e.duration > 0] + [ideal_pulse(obs, 180.0, 0.0)] + [
        Event(e.duration) for e in second if e.duration > 0]
    return cycle, centre, centre_on, off


def _crystal_file(powder):
    """The crystal file text (SIMPSON angles, degrees): the count, then ``alpha beta weight`` rows."""
    from .conventions import crystallites_to_simpson

    a, b, w = crystallites_to_simpson(powder.alpha, powder.beta, powder.weights)
    return "\n".join([str(len(a))] + [f"{x:.10g} {y:.10g} {z:.10g}" for x, y, z in zip(_deg(a), _deg(b), w)]) + "\n"


def _main_tcl(name, scale):
    """``proc main``: the S0 (saturation rf off) and S1 runs, each scaled and saved as NAME_S0/S1.fid."""
    lines = ["proc main {} {", "  global par"]
    for flag, which in ((0, "S0"), (1, "S1")):
        lines += [f"  set par(sat) {flag}", "  set f [fsimpson]", f"  fphase $f -scale {scale:.12g}",
                  f"  fsave $f {name}_{which}.fid", "  funload $f"]
    return lines + ["}"]


def write_simpson(spec, path):
    """Write ``path`` (the SIMPSON input) and the crystal file beside it; returns both paths."""
    path = Path(path)
    text, cry = simpson_input(spec, path.stem)
    path.write_text(text)
    cry_path = path.with_suffix(".cry")
    cry_path.write_text(cry)
    return path, cry_path


def read_fsave(path):
    """Read a SIMPSON ``fsave`` file (text format): complex data and the header values.

    Returns
    -------
    data : complex ndarray
    header : dict
        Keys such as ``NP``, ``SW``, ``TYPE`` (strings).

    Raises
    ------
    ValueError
        Naming the file and line of a malformed line, or a count that does not match NP; a missing,
        binary or empty file is refused by the text-file guard (:class:`spinsim.textfile.TextFileError`).
    """
    from .textfile import read_text

    header, data, in_data = {}, [], False
    lines = read_text(path, "SIMPSON fsave file", allow_empty=False).splitlines()
    if not lines or lines[0].strip() != "SIMP":
        raise ValueError(f"{path}:1: not a SIMPSON fsave file (first line is not 'SIMP')")
    for lineno, line in enumerate(lines[1:], 2):
        s = line.strip()
        if not s:
            continue
        if s == "DATA":
            in_data = True
        elif s == "END":
            break
        elif in_data:
            data.append(_fsave_point(path, lineno, s))
        elif "=" in s:
            k, v = s.split("=", 1)
            header[k.strip()] = v.strip()
    else:  # no END: SIMPSON writes one, so the file was cut short
        raise ValueError(f"{path}: no {'END' if in_data else 'DATA'} line: the file is damaged or cut short")
    expected = _fsave_count(path, header, "NP") * _fsave_count(path, header, "NI")
    if "NP" in header and expected != len(data):
        raise ValueError(f"{path}: NP = {header['NP']}" + (f", NI = {header['NI']}" if "NI" in header else "")
                         + f" but {len(data)} data points: the file is damaged or cut short")
    return np.array(data, complex), header


def _fsave_point(path, lineno, text):
    try:
        re, im = (float(x) for x in text.split())
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected two numbers, got {text!r}") from None
    if not (np.isfinite(re) and np.isfinite(im)):
        raise ValueError(f"{path}:{lineno}: a data point must be finite, got {text!r}")
    return complex(re, im)


def _fsave_count(path, header, key):
    """NP or NI of the header (1 when absent or empty), a whole number >= 1."""
    text = header.get(key) or "1"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 1 and value == int(value)):
        raise ValueError(f"{path}: {key} = {text!r} is not a count of points")
    return int(value)


def simpson_curve(s0_path, s1_path):
    """S0, S1 and dS/S0 from the two FIDs of an exported input, with spinsim's phasing.

    S0 = |S0|, S1 = Re(S1 conj(S0)) / |S0|, dS/S0 = 1 - Re(S1 / S0). The exported input scales
    both FIDs so that the interaction-free signal is 1 (SIMPSON's own value is 1/2 times the number
    of states of the other spins), so S0 and S1 compare directly with spinsim's.
    """
    s0, _ = read_fsave(s0_path)
    s1, _ = read_fsave(s1_path)
    if s0.shape != s1.shape:
        raise ValueError(f"{s0_path} and {s1_path} have different lengths ({s0.size}, {s1.size})")
    return np.abs(s0), (s1 * np.conj(s0)).real / np.abs(s0), 1 - (s1 / s0).real
