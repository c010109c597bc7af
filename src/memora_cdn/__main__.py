from memora_cdn.cli import main

main()
