"""Unit tests of the scheduler package."""
