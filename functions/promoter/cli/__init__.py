"""``lambda-promoter``: the operator's command line for a deployed orchestrator stack.

It is the front door to what the stack already does: it starts promotions and rollbacks through the
stack's operator URL (signed with the caller's own credentials), follows executions through their
Step Functions history, decides approvals through the operator URL, and reads aliases, locks, approvals
and history from Lambda and the promotions table. It validates requests locally with the same models and
planning code as Resolve Request, so bad input fails before anything starts, with the same named error.

One module per command group: :mod:`.promote` (promote, rollback; :mod:`.local_check` checks requests),
:mod:`.watch` (watch, ``--wait``; :mod:`.follow` reads the history), :mod:`.status` (status, history),
:mod:`.approve` (through :mod:`.operator_url`), :mod:`.versions` (versions, prune), :mod:`.unlock`;
:mod:`.stack` finds the stack, :mod:`.plans` renders plans, :mod:`.output` prints and names the exit codes,
:mod:`.main` parses the arguments.
"""
