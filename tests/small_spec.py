"""Specs shared by the command-line tests: small enough to simulate in well under a second."""

#: 13C{27Al} RESPDOR with ideal pulses and saturation, ZCW 21 x 4, to 0.6 ms.
SMALL_SPEC = """\
[experiment]
type = "respdor"
field_T = 9.4
mas_rate_hz = 10000
t_max_ms = 0.6

[[spins]]
isotope = "13C"

[[spins]]
isotope = "27Al"
cq_mhz = 3.0
eta_q = 0.3

[[dipolar]]
spins = [0, 1]
d_hz = 503.0

[recoupling]
scheme = "redor"

[saturation]
type = "ideal"

[powder]
scheme = "zcw"
n = 21
n_gamma = 4
"""
