"""Example target apps for lambda-promoter, plus the build variants the demo and tests promote."""
