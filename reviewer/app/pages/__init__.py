"""The review app's pages: one Streamlit script each, run by ``st.navigation`` (not imported)."""

__all__: list[str] = []
