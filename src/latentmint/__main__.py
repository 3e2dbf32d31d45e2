from latentmint.cli import main

main()
