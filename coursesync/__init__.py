"""coursesync."""
