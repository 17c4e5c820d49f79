"""`make bench`: what one promotion costs through the orchestrator, next to the same promotion done by
the shortest direct boto3 sequence, measured side by side on the embedded local AWS.

- :mod:`bench.deploy`   -- the orchestrator and copies of the example app ``greeting`` in one ``LocalAws``;
- :mod:`bench.measure`  -- one promotion either way, the interleaved pairs, N promotions at once;
- :mod:`bench.shifting` -- the users a canary or linear promotion's bakes judge, and its steps and bakes;
- :mod:`bench.cost`     -- public prices (with region and date) and the cost of 1,000 promotions;
- :mod:`bench.report`   -- the markdown tables.

Everything printed is measured in the run that prints it, except what the report labels as derived
(ratios, costs, per-second rates). The local AWS runs on one shared machine: compare ratios, not seconds.
"""
