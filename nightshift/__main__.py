from nightshift.cli.main import main

main()
