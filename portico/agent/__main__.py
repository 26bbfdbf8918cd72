"""`python -m portico.agent --config PATH` (the supervisor uses `python -m portico agent`)."""

import argparse
import sys
from pathlib import Path

from portico.agent import main

parser = argparse.ArgumentParser(prog="python -m portico.agent")
parser.add_argument("--config", type=Path, required=True)
sys.exit(main(parser.parse_args().config))
