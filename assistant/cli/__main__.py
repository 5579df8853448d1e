import sys

from assistant.cli.parser import main

sys.exit(main())
