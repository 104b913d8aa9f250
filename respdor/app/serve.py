"""Serving the app with Panel: one page per browser tab (each session builds its own widgets and
state), the private upload folder of the process, and the folder the app reads and writes in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import panel as pn

from .uploads import UploadFolder
from .worker import route_warnings

__all__: list = []

TITLE = "respdor"


@dataclass
class AppContext:
    """What every session of one app process shares: the start folder and the upload folder."""

    start: Path
    uploads: UploadFolder

    @staticmethod
    def example(name):
        from ..examples import example_path

        return example_path(name)


def page(context=None):
    """The app's page for one session (also shown as it is in a Jupyter notebook cell)."""
    from .fitpage import FitPage
    from .planpage import PlanPage
    from .simpage import SimulatePage
    from .spectrapage import SpectraPage
    from .structpage import StructurePage

    context = context or AppContext(Path.cwd(), UploadFolder())
    pages = [("Fit", FitPage(context)), ("Plan", PlanPage(context)), ("Structure", StructurePage(context)),
             ("Simulate", SimulatePage(context)), ("Spectra", SpectraPage(context))]
    tabs = pn.Tabs(*((name, p.view()) for name, p in pages), dynamic=False)
    _cancel_when_the_tab_closes([p.runner for _, p in pages])
    return pn.Column(pn.pane.Markdown(f"## {TITLE}: REDOR / RESPDOR distances"), tabs, sizing_mode="stretch_width")


def _cancel_when_the_tab_closes(runners):
    """Work still running when its tab is closed is cancelled as the tab's session ends (a second or
    two later, see :data:`SESSION_LIFETIME_MS`), not left to run for no one."""
    doc = pn.state.curdoc
    if doc is None:  # no server session (built outside one): nothing ends it
        return

    def cancel(session_context):
        for runner in runners:
            if runner.job is not None:
                runner.job.cancel()

    doc.on_session_destroyed(cancel)


#: A closed tab's session (and its running work) ends after this long without a connection; the
#: server looks every :data:`SESSION_LIFETIME_MS` too (Bokeh's defaults, 15 and 17 s, are for
#: servers with many users; a reload opens a new session anyway).
SESSION_LIFETIME_MS = 2000


def serve(host="127.0.0.1", port=5006, show=True, start=None, ready=None):
    """Serve the app until Ctrl-C (KeyboardInterrupt propagates to the caller); uploads are removed
    on the way out. ``ready(url)`` is called once the server listens."""
    route_warnings()
    context = AppContext(Path(start or Path.cwd()).resolve(), UploadFolder())
    origins = [f"{name}:{port}" for name in {host, "localhost", "127.0.0.1"}]
    if host in ("0.0.0.0", "::", ""):
        import logging

        origins = ["*"]  # any name of this machine; the command line has said so in its warning
        logging.getLogger("bokeh.server.util").setLevel(logging.ERROR)
    try:
        server = pn.serve({"/": lambda: page(context)}, address=host, port=port, show=False, start=False,
                          title=TITLE, websocket_origin=origins, websocket_max_message_size=64 * 1024 * 1024,
                          verbose=False, check_unused_sessions=SESSION_LIFETIME_MS,
                          unused_session_lifetime=SESSION_LIFETIME_MS)
        stopped = _stop_on_ctrl_c(server.io_loop)
        _quiet_when_a_tab_goes_away(server.io_loop.asyncio_loop)
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{server.port}/"
        if ready is not None:
            ready(url)
        if show:
            import webbrowser

            webbrowser.open(url)
        server.io_loop.start()
        server.stop()
        if stopped:
            raise KeyboardInterrupt
    finally:
        context.uploads.remove()


def _quiet_when_a_tab_goes_away(loop):
    """A tab closed while its page was being updated is not an error of the app: no traceback or log
    line for it in the terminal (anything else is reported as before)."""
    import logging

    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    logging.getLogger("panel.io.document").setLevel(logging.ERROR)  # "Failed sending message as connection was closed"

    def handler(loop, context):
        if not isinstance(context.get("exception"), (WebSocketClosedError, StreamClosedError)):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _stop_on_ctrl_c(io_loop):
    """Ctrl-C stops the server's loop (from the loop's own thread); the list returned says it did, so
    that :func:`serve` raises KeyboardInterrupt and the command line exits 130."""
    import signal

    said = []

    def handler(signum, frame):
        said.append(signum)
        io_loop.asyncio_loop.call_soon_threadsafe(io_loop.stop)

    signal.signal(signal.SIGINT, handler)
    return said
