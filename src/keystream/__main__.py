from keystream.cli import main

main()
