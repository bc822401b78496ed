"""Tests of the project-wide pieces: discovery, errors, settings."""
