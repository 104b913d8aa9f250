"""``respdor app``: a local web app (Panel) over the library calls.

The pages parse their widgets, call the library (:func:`respdor.fit`, ...) and show what it returns;
no physics and no fitting lives here. Nothing in this package is public API (``__all__`` is empty):
start the app with ``respdor app``, or in a notebook with ``respdor.app.serve.page()``. Importing
``respdor`` or ``respdor.app`` does not import Panel; :mod:`respdor.app.serve` does.
"""

__all__: list = []
