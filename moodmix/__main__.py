from moodmix.cli import main

main()
