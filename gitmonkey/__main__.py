from gitmonkey.cli import main

main()
