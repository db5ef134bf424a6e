"""Names of the job functions, shared by the router (which enqueues) and the worker (which runs).

The web side imports only this module from `jobs`, so it never loads the worker's dependencies.
"""

FIX_CHECK_RUN = "fix_check_run"
FIX_ISSUE = "fix_issue"
RUN_COMMAND = "run_command"
SANDBOX_FINISHED = "sandbox_finished"
RECORD_PR_OUTCOME = "record_pr_outcome"
RECORD_INSTALLATION = "record_installation"
RECORD_BOT_CHECK = "record_bot_check"
RECORD_REVERT = "record_revert"

# Commands have their own arq queue, so a reply comes within seconds even while fix jobs fill theirs.
FIX_QUEUE = "arq:queue"  # arq's default
COMMAND_QUEUE = "arq:queue:commands"


def queue_for(function: str) -> str:
    return COMMAND_QUEUE if function == RUN_COMMAND else FIX_QUEUE


ALL = (
    FIX_CHECK_RUN,
    FIX_ISSUE,
    RUN_COMMAND,
    SANDBOX_FINISHED,
    RECORD_PR_OUTCOME,
    RECORD_INSTALLATION,
    RECORD_BOT_CHECK,
    RECORD_REVERT,
)
