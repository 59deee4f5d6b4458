"""Handing leads between owners and teams, and the rules that assign new leads."""
