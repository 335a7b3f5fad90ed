#!/bin/sh
# The README's demo command. The demo itself lives in demo/: demo/demo.sh
# starts the servers and tells the story, demo/checks.py checks the answers.
# ./tools/demo.sh --help lists the options.
exec "$(dirname "$0")/../demo/demo.sh" "$@"
