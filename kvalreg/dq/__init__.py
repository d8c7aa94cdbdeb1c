"""Data quality: the check registry that every problem and DQ result refers to."""
