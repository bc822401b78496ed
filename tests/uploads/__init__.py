"""Tests of the uploads app."""
