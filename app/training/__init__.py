"""Training as the web sees it: hyperparameters, presets and estimates (pure functions, no torch)."""
