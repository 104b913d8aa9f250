"""Pieces every page uses: one-line message boxes, and the Run / Cancel / progress block that runs a
library call in a :class:`~respdor.app.worker.Job` off the request thread."""

from __future__ import annotations

import asyncio
import html

import panel as pn

from ..errors import UserError
from .worker import Job

__all__: list = []

#: Seconds between two looks at a running job (its progress on the page; adds to the time to a result).
POLL_S = 0.03


def message(kind, text):
    """A one-line message box (kind: danger, warning, info, success), found by tests as ``.respdor-<kind>``."""
    return pn.pane.Alert(html.escape(str(text)), alert_type=kind, css_classes=[f"respdor-{kind}"], margin=(4, 0))


def keep_upload(page, select, verb):
    """Keep the file of ``page.upload`` in the tab's private folder, offer it in ``select`` (as
    ``page.files[key] = (path, name)``) and say when it is read (``verb``: the button that reads it)."""
    if page.upload.filename is None:
        return
    try:
        path = page.ctx.uploads.save(page.upload.filename or "upload", page.upload.value or b"")
    except UserError as exc:
        page.runner.say("danger", exc)
        return
    key = f"upload: {path.name}"
    page.files[key] = (str(path), path.name)
    select.options = list(page.files)
    select.value = key
    page.runner.say("info", f"{path.name}: kept for this tab; it is read when you click {verb}")


class JobRunner:
    """A button that starts ``prepare()`` -> ``fn(progress)`` in a worker thread, a Cancel button, the
    progress of the stage that runs, and a status line; ``done(job)`` shows a finished result.

    ``prepare`` reads the page's widgets and returns the call (or raises UserError: said at once);
    ``words`` turns a library line into what the page says (upload names, field names).
    """

    def __init__(self, label, prepare, done, words=str):
        self.label, self.prepare, self.done, self.words = label, prepare, done, words
        self.runs, self.job = 0, None
        self.button = pn.widgets.Button(name=label, button_type="primary", width=120)
        self.button.on_click(self._clicked)
        self.cancel = pn.widgets.Button(name="Cancel", button_type="warning", width=120, disabled=True)
        self.cancel.on_click(lambda event: self.job and self.job.cancel())
        self.progress = pn.indicators.Progress(name="progress", active=False, value=-1, width=360, visible=False)
        self.stage = pn.pane.Str("", visible=False)
        self.status = pn.Column(sizing_mode="stretch_width")

    def view(self):
        return pn.Column(pn.Row(self.button, self.cancel), self.progress, self.stage, self.status,
                         sizing_mode="stretch_width")

    def say(self, kind, *lines):
        self.status.objects = [message(kind, self.words(line)) for line in lines]

    async def _clicked(self, event):
        self.status.objects = []
        try:
            fn = self.prepare()
        except UserError as exc:
            self.say("danger", exc)
            return
        self.job = job = Job(fn).start()
        with pn.io.hold():
            self._running(True)
        while job.state == "running":
            done, total, label = job.stage
            if total:
                self.progress.max, self.progress.value = total, min(done, total)
                self.stage.object = f"{label}: {done} of {total}"
            if job.notes:
                self.say("info", *job.notes[-3:])
            await asyncio.sleep(POLL_S)
        with pn.io.hold():  # one message to the browser for the whole result
            self._running(False)
            if job.state == "done":
                self.runs += 1
                self.done(job)
                self.say("success", f"{self.label.lower()} {self.runs}: done in {job.seconds:.2f} s")
            else:
                self.say("warning" if job.state == "cancelled" else "danger", job.message)

    def _running(self, running):
        self.button.disabled, self.cancel.disabled = running, not running
        self.progress.visible = self.stage.visible = running
        self.progress.active, self.progress.value, self.stage.object = running, -1, ""
