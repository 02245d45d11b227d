"""Contact tracing (流调溯源): cases, their close, secondary and exposed contacts, and the evidence for each."""
