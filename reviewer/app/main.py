"""Entry file of the review app (``streamlit run reviewer/app/main.py``; use ``tastevin review``).

Order on every run: page config, the login gate (nothing else renders before it
passes), the shared sidebar controls, then the selected page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from reviewer.app import _gate, _state
from reviewer.app.settings import load_settings

PAGES_DIR = Path(__file__).with_name("pages")

PAGES = (
    ("overview.py", "Overview", ":material/monitoring:"),
    ("categories.py", "Categories", ":material/category:"),
    ("drift.py", "Drift", ":material/waves:"),
    ("samples.py", "Samples", ":material/search:"),
    ("review.py", "Review", ":material/rate_review:"),
    ("runs.py", "Runs", ":material/play_circle:"),
    ("alerts.py", "Alerts", ":material/notifications:"),
    ("export.py", "Export", ":material/download:"),
)


def main() -> None:
    st.set_page_config(page_title="Tastevin review", page_icon=":material/wine_bar:", layout="wide")
    settings = load_settings()
    if not _gate.require_auth(settings):
        st.stop()
    pages = [
        st.Page(str(PAGES_DIR / file), title=title, icon=icon, default=index == 0)
        for index, (file, title, icon) in enumerate(PAGES)
    ]
    navigation = st.navigation(pages)
    _state.sidebar_controls(settings)
    navigation.run()


main()
