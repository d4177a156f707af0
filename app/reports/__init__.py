"""Reports: dashboards, public transparency figures, ledgers out (Excel/CSV) and in
(imports), printable reports."""
