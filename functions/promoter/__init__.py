"""Domain package shared by every task function of the promotion state machine.

Handlers in ``functions/<task>/app.py`` stay thin: they parse their input into a model from
:mod:`promoter.models`, call one domain function with boto3 clients passed in, and return a plain dict.
"""

__version__ = "0.1.0"
