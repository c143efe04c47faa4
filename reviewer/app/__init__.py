"""The review app: a Streamlit multipage app over the store, started by ``tastevin review``.

* ``command`` — the ``tastevin review`` click command (starts Streamlit as a child);
* ``auth`` / ``settings`` — the bind policy, the password check, the settings object;
* ``main`` — the entry file (login gate, shared sidebar, ``st.navigation``);
* ``pages/`` — one thin view per page over ``reviewer.browse``, ``reviewer.series``,
  ``reviewer.reviews``, ``reviewer.activity``, ``reviewer.export``, ``reviewer.queries``
  and ``reviewer.stats``, through the cached wrappers of ``_data``.

Importing this package imports nothing heavy; the Streamlit modules import Streamlit.
"""

__all__: list[str] = []  # nothing at package level: use the modules named above
