"""From a structure to the dephasing curve it predicts, and what a two-spin fit of that curve reads.

Structures are read with ASE (xyz/extxyz, CIF, POSCAR/CONTCAR, CASTEP ``.magres``); the EFG
tensors of a ``.magres`` file give each quadrupolar partner its C_Q, eta_Q and orientation
(:func:`spinsim.conventions.quadrupolar_from_efg`). Partners are found within a cutoff radius,
periodic images included, nearest first.

Curves are computed by spinsim. With ideal REDOR pi pulses on the observed spin and partners
coupled only to it (``build_system(..., partner_couplings=False)``), spinsim's ``fast`` engine is
the **independent-partner (product) model per crystallite**: in each crystallite the observed signal
is the product of the two-spin factors of the partners, dS/S0 = 1 - <prod_k (1 - dS_k)>, the
average taken over crystallites *after* the product. Within spinsim's Hamiltonian this is exact
(the partners' evolutions commute, conditional on S_z), so it agrees with the dense ``general``
engine to numerical precision; :func:`powder_product` is the cruder model that multiplies
powder-averaged two-spin curves and is *not* exact. What the product model leaves out is the
coupling of the partners to each other (27Al-27Al at 3-4 A: 130-300 Hz), whose flip-flop terms
exchange populations between them during the recoupling; ``partner_couplings=True`` includes it
and spinsim's ``coupled`` engine propagates the whole partner space (docs/structures.md gives the
measured difference).

The package has one module per job: :mod:`~respdor.structure.reading` (structures, tensors,
the observed atoms), :mod:`~respdor.structure.partners` (partners and their spin system) and
:mod:`~respdor.structure.prediction` (curves, occupancy average, two-spin reading, cutoff
convergence); every name is importable from ``respdor.structure`` itself. The whole prediction as
one call, with its checks and warnings, is
:func:`respdor.predict_structure <respdor.jobs.structure.predict_structure>`.

ASE is an optional dependency: ``pip install respdor[structures]``.
"""

from spinsim.isotopes import element_of

from .partners import (
    FULL_ABUNDANCE,
    Partner,
    build_system,
    couplings_affordable,
    find_partners,
    partner_abundance,
    partner_coupling_max_hz,
    search_size,
)
from .prediction import (
    _enumerate,
    _monte_carlo,
    apparent_two_spin,
    cutoff_convergence,
    occupancy_patterns,
    powder_product,
    predict_curve,
    saturation_from_table,
    site_curve,
)
from .reading import (
    BOND_SCALE,
    OBSERVED_ISOTOPE,
    Structure,
    _ase,
    atoms_missing_tensor,
    bonded_neighbours,
    check_cell,
    check_contacts,
    observed_csa,
    read_structure,
    select_observed,
)

__all__ = [
    "Partner",
    "Structure",
    "read_structure",
    "select_observed",
    "bonded_neighbours",
    "find_partners",
    "build_system",
    "predict_curve",
    "powder_product",
    "saturation_from_table",
    "observed_csa",
    "partner_abundance",
    "site_curve",
    "apparent_two_spin",
    "cutoff_convergence",
    "partner_coupling_max_hz",
    "couplings_affordable",
    "occupancy_patterns",
    "search_size",
    "atoms_missing_tensor",
    "check_cell",
    "check_contacts",
    "element_of",
    "OBSERVED_ISOTOPE",
    "BOND_SCALE",
    "FULL_ABUNDANCE",
]
