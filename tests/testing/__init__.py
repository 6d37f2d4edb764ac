"""What every test folder shares (as pre-commit's `testing/`): the one in-process CLI invoker."""
