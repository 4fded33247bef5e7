"""Sandbox twin of the ClubCollect API v2."""
