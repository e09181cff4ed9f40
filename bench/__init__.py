"""Mass-mailing benchmark: every variant against one local SMTP sink (`make bench`)."""
