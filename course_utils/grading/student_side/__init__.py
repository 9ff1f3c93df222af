"""What runs in the student's kernel during grading: the probe server alone (no tests, no references)."""
