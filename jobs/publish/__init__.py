"""Publishing a fix: pure renderers (branch names, commit messages, PR bodies, comments, the hidden
state block) and the executor that turns them into Git Data and REST calls."""
