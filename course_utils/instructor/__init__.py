"""Instructor tooling behind the Makefile: generate student notebooks, execute solutions,
autograde a demo class and print the course summary. Run as ``python -m course_utils.instructor``."""
