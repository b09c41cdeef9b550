from hati.cli import main

main()
