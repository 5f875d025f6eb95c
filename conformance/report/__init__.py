"""Report writers: report.json (machine), report.md (review), report.html (people, with plots)."""
