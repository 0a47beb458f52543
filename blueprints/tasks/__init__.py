"""Tasks: the marketer's "Today", the team's figures and hand-over, birthday care lists, the job log."""
