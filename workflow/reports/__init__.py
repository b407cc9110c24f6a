"""Exports, the observatory and the budget forecast (issue 7, points 2 to 4).

One responsibility per module:

- `selection`   — what a report covers (scheme, campaign, case filters) and its checks;
- `labels`      — the French words of the reports (headers, events, territory groups);
- `exports`     — cases, payments, reimbursements and events as CSV or XLSX, streamed;
- `observatory` — set-based figures per campaign, département, EPCI type and sector;
- `forecast`    — payments still to come per month and funder; the cost of a new campaign;
- `workbook`    — the observatory and forecast XLSX workbooks;
- `charts`      — the same figures as PNG charts (matplotlib, Agg, French labels).

Nothing here writes to the database; every function takes a session or plain values.
"""
