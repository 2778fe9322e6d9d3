return Puzzle.Cli.PuzzleApp.Run(args);
