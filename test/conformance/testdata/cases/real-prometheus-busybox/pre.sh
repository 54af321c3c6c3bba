chmod 755 prometheus promtool
