from replayflow.cli import main

main()
