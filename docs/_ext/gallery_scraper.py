"""Gallery image scraper: matplotlib figures saved with a tight bounding box.

Library figures (``respdor.plotting.plot_fit``) are laid out for their own ``savefig(...,
bbox_inches="tight")``; sphinx-gallery's default scraper saves the canvas as is and would clip
their axis labels. Named in ``conf.py`` as ``"gallery_scraper.tight_matplotlib"`` (a string, so
the configuration stays picklable).
"""

from sphinx_gallery.scrapers import matplotlib_scraper


def tight_matplotlib(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery scraper: every open figure, saved with ``bbox_inches="tight"``."""
    return matplotlib_scraper(block, block_vars, gallery_conf, bbox_inches="tight", **kwargs)
