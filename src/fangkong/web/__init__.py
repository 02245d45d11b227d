"""web: the page shell (layout, navigation, templates), login, language, overview, audit log."""
