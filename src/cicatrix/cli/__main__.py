from cicatrix.cli.main import main

main()
