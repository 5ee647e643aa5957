"""Widgets and HTML views: built and returned, never displayed inside a helper."""
