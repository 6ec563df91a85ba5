"""Exports anyone can verify (docs/exports.md): ``?format=csv|xlsx`` on the lists and breakdowns answers a zip
holding the whole query as a data file and ``manifest.json`` (what was asked, by whom, as of when; rows,
exact money sums, sha256), streamed with constant memory. :func:`verify_export` checks one."""

from api.exports.columns import model_columns, positional
from api.exports.spec import (
    Column,
    ExportFormat,
    ExportSettings,
    FormatParam,
    Manifest,
    ManifestColumn,
)
from api.exports.stream import export_response, ready, streamed
from api.exports.verify import ExportMismatch, verify_export

EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "JSON (format=json, the default), or with format=csv or xlsx a zip: the data file "
        "(payments.csv: UTF-8 with BOM, CRLF, a header row; or payments.xlsx) and manifest.json "
        "(docs/exports.md)",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}

__all__ = [
    "EXPORT_RESPONSES",
    "Column",
    "ExportFormat",
    "ExportMismatch",
    "ExportSettings",
    "FormatParam",
    "Manifest",
    "ManifestColumn",
    "export_response",
    "model_columns",
    "positional",
    "ready",
    "streamed",
    "verify_export",
]
