"""The bench measurement GUI (PySide6 + pyqtgraph): the only place labsyn imports Qt.

`labsyn gui [--station FILE] [--data DIR]` opens `main_window.MainWindow` through `app.main`.
"""
