"""geo: the jurisdiction tree, residential compounds, places and facilities."""
