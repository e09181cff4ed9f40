"""Mass mailing: jobs, their queued runs, dispatch, progress, provider limits, the reaper."""
