"""Tests of the portal pages (Personal → User, the card admin)."""
