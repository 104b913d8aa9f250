"""Spectra: Bruker/text data in, CSA sideband fits, PASS processing, site deconvolution, RESPDOR series.

Nothing here imports numba; the sideband physics comes from :mod:`spinsim.sidebands` and the
PASS timings from :mod:`spinsim.pass_timing`. Shifts are in ppm, frequencies in Hz, times in s.
"""
