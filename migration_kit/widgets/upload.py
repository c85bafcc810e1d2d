"""Upload a file into a provider: a new provider (version 1) or the provider's next version.

The uploaded bytes go to a temporary file that the API stores in the workspace; then the
FileUpload widget is emptied (``value = ()``), so the content never stays in the widget
state that a saved notebook keeps.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as W

from .. import api
from ..errors import NotFoundError
from ..workspace import Workspace
from . import tables
from .errors import ErrorArea, guarded

ACCEPT = ".csv,.txt,.tsv,.tab,.xlsx,.xlsm,.xls,.xml"


class UploadWidget(W.VBox):
    """FileUpload + provider name: uploading creates the provider or adds a version."""

    def __init__(self, ws: Workspace, provider: str = "", params: dict[str, Any] | None = None):
        self.ws = ws
        self.params = params or {}
        self.provider = W.Text(value=provider, description="Provider",
                               placeholder="(the file name without extension)").add_class(
                                   "mk-provider")
        self.upload = W.FileUpload(accept=ACCEPT, multiple=False,
                                   description="Upload file").add_class("mk-upload")
        self.status = W.Label("").add_class("mk-status")
        self.settled = W.HTML("").add_class("mk-settled")
        self.errors = ErrorArea()
        self.upload.observe(self._on_upload, names="value")
        super().__init__([W.HBox([self.provider, self.upload]), self.status, self.settled,
                          self.errors])
        self.add_class("mk-upload-panel")

    def store(self, name: str, filename: str, content: bytes):
        """Store ``content`` (a file called ``filename``) into provider ``name``; returns the
        file version. Creates the provider when it does not exist."""
        with tempfile.TemporaryDirectory(prefix="mk-upload-") as tmp:
            path = Path(tmp) / api.clean_file_name(filename)
            path.write_bytes(content)
            try:
                api.load_provider(self.ws, name)
            except NotFoundError:
                api.add_provider(self.ws, name, path, params=self.params)
                return api.versions(self.ws, name)[-1]
            return api.upload_version(self.ws, name, path)

    def _settled_html(self, name: str, fv) -> str:
        """The table of what was settled reading the stored file (header, preamble, names,
        skipped rows), to look at before mapping anything; empty when nothing was."""
        import html

        prov = api.load_provider(self.ws, name)
        layout = prov.schema.layout
        if fv.version > 1 and layout is not None:
            layout = prov.ptype.read_schema(fv.path, prov.params).layout
        rows = tables.layout_rows(layout)
        if not rows:
            return ""
        head = "".join(f"<th>{c}</th>" for c in tables.SETTLED_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>"
                                        for c in tables.SETTLED_COLUMNS) + "</tr>" for r in rows)
        return (f"<b>Settled reading {html.escape(fv.original_name)}</b> (check before "
                f"mapping; override in the provider's parameters)<table><tr>{head}</tr>{body}"
                "</table>")

    @guarded()
    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return  # our own reset below
        try:
            f = files[0]
            name = self.provider.value.strip() or Path(api.clean_file_name(f["name"])).stem
            self.status.value = f"storing {f['name']} ..."
            self.settled.value = ""
            fv = self.store(name, f["name"], bytes(f["content"]))
            self.status.value = (f"provider {name}: version {fv.version} stored "
                                 f"({fv.size} bytes, from {fv.original_name})")
            self.settled.value = self._settled_html(name, fv)
        except Exception:
            self.status.value = "upload refused: see the error below"
            raise
        finally:
            self.upload.value = ()  # never keep the bytes in the widget state

