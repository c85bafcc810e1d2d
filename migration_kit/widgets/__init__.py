"""ipywidgets front ends over :mod:`migration_kit.api` (the same calls as the CLI).

Every widget has stable CSS classes (``mk-...``) for browser tests, and shows errors of its
callbacks in an error area (``mk-error``) that names the record, field and message.
"""

from . import tables
from .errors import ErrorArea, describe
from .mapping import MappingWidget
from .prepared_grid import PreparedGrid
from .prepared_tools import PreparedTools
from .run_panel import ExportPanel, HistoryPanel, ImportPanel
from .upload import UploadWidget

__all__ = ["ErrorArea", "ExportPanel", "HistoryPanel", "ImportPanel", "MappingWidget",
           "PreparedGrid", "PreparedTools", "UploadWidget", "describe", "tables"]
