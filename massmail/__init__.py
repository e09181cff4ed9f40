"""Mass mailing: jobs (jobs.py), dispatch (dispatch.py), provider limits, the reaper."""
