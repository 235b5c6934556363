from cicatrix.cli.entry import main

main()
