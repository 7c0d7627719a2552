from nightshift.cli import main

main()
