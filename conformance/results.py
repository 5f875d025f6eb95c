"""The results file: one JSON line per finished case, appended as results arrive.

`results.jsonl` in the output folder starts with a header line that fingerprints what the results
depend on (backend, golden files, tolerance policy, torch version, plugins). Rerunning into the
same folder with the same fingerprint skips every case already in the file, so an interrupted run
loses at most the cases that were in flight; a different fingerprint moves the old file aside
(`results.<time>.jsonl`) and starts afresh. A half-written last line (the process was killed
mid-write) is ignored.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

FILE_NAME = "results.jsonl"


class ResultStore:
    def __init__(self, out_dir: Path, fingerprint: dict):
        self.path = Path(out_dir) / FILE_NAME
        self.fingerprint = fingerprint
        self.results: dict[str, dict] = {}
        self.resumed = 0
        self.moved_aside: Path | None = None
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            header, results = self._read()
            if header == self.fingerprint:
                self.results = results
                self.resumed = len(results)
            else:
                self.moved_aside = self.path.with_name(f"results.{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
                os.replace(self.path, self.moved_aside)
        exists = self.path.exists()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        if not exists:
            self._write({"header": self.fingerprint})
        elif self.path.stat().st_size and not self._ends_with_newline():
            self._file.write("\n")

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def _read(self) -> tuple[dict | None, dict[str, dict]]:
        header, results = None, {}
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue          # a line cut short by an interrupt
                if "header" in record:
                    header = record["header"]
                elif "id" in record:
                    results[record["id"]] = record
        return header, results

    def _write(self, record: dict) -> None:
        from .report.write import jsonable  # noqa: PLC0415

        self._file.write(json.dumps(jsonable(record), default=str, allow_nan=False) + "\n")
        self._file.flush()

    def done(self, case_id: str) -> bool:
        return case_id in self.results

    def add(self, result: dict) -> None:
        self.results[result["id"]] = result
        self._write(result)

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
