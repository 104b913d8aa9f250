"""Running a page of the app without a browser: what its Run button does, in the test's thread."""


def run(page):
    """``page``'s call as its button would make it, shown on the page; returns ``page.result``."""

    class Done:
        warnings = []

    job = Done()
    job.result = page._prepare()(None)
    page._show(job)
    return page.result
