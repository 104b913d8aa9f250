"""One Python call per job: what each ``respdor`` command does, for scripts and notebooks.

Each call does everything its command does -- defaults, checks, convergence checks, warnings --
takes Python values with their units in the parameter names (SI unless said), returns a result
object (short ``repr``, HTML table in a notebook, ``to_dataframe()``, ``to_json()``, ``plot(ax=)``)
and writes nothing unless asked. Warnings are raised as :class:`respdor.errors.RespdorWarning`
and kept in the result's ``warnings``; progress goes through ``progress=`` (see
:mod:`spinsim.progress`). The command line parses its options, calls these and prints.

The calls are also available at the top level: ``respdor.fit``, ``respdor.simulate``, ... .
"""
