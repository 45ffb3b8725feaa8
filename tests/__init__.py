"""Tests of ql1706kg."""
