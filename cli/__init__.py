"""`jobs`: the command-line client of the jobs platform's HTTP API."""
